// Package autoconfig answers the documents mail clients and other mail
// servers fetch over HTTPS to configure themselves for a domain hosted here:
//
//   - Thunderbird's autoconfig (clientConfig v1.1) at
//     /.well-known/autoconfig/mail/config-v1.1.xml and
//     autoconfig.<domain>/mail/config-v1.1.xml (thunderbird.go);
//   - Outlook's Autodiscover: the POX protocol (POST
//     /autodiscover/autodiscover.xml, MS-OXDSCLI) and the JSON v2 endpoint
//     that points at it (autodiscover.go);
//   - Apple's configuration profile (.mobileconfig), which the webmail
//     offers a logged-in user for their own address (mobileconfig.go);
//   - the MTA-STS policy at https://mta-sts.<domain>/.well-known/mta-sts.txt
//     (RFC 8461 3.3, mtasts.go).
//
// Invariants:
//   - Every document names the configured host name (never the request's
//     Host) and the ports of the listeners that exist, implicit TLS
//     (RFC 8314) before STARTTLS, and is served with its own Content-Type.
//   - A domain is answered for only if the store hosts it (asked at request
//     time, so a domain added to a running server works at once); any other
//     gets 404, the same as a domain that does not exist anywhere. Whether an
//     account exists is never revealed.
//   - Request bodies are bounded (maxBody) and parsed by encoding/xml, which
//     expands no entities it does not know; a malformed request gets a 400
//     with a fixed text.
//   - The service host names (autoconfig., autodiscover., mta-sts.) answer
//     only their documents: the webmail and its session cookies stay on the
//     server's own names.
package autoconfig
