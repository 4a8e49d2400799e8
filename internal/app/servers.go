package app

// serverSpec is one protocol server on one configured address.
type serverSpec struct {
	name        string
	addr        string
	implicitTLS bool
	srv         Server
}

// servers lists the protocol servers that exist, with their configured addresses.
// Each protocol package adds itself here as it lands.
func (a *App) servers() []serverSpec {
	return nil
}
