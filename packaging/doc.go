// Package packaging holds what turns Gannet into something to install: the
// Debian package's description for nfpm (nfpm.yaml), its maintainer
// scripts, the systemd unit, and prodconfig, which derives the packaged
// /etc/gannet/gannet.toml from the documented example. release.sh at the
// repository root drives them. The tests here build the release binary and
// the .deb as release.sh does and check what they install and how the
// installed server runs (docs/ARCHITECTURE.md, "Packaging").
package packaging
