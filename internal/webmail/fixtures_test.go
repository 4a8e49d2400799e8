package webmail

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"gannet/internal/store/storetest"
)

// testTime is a fixed internal date for generated mail.
func testTime() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }

// pngPixel is a valid 1x1 PNG.
const pngPixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

// richMessage is multipart/mixed: a multipart/alternative (plain + a
// multipart/related HTML with an inline cid: image) and a PDF attachment
// with a hostile file name.
func richMessage(remote string) []byte {
	html := `<html><head><style>p { color: #123456; background: url(` + remote + `/css-bg.png) } @import url("` + remote + `/imp.css");</style></head>
<body><p>Hello <b>rich</b> world</p><img src="cid:logo@x" alt="logo"><img src="` + remote + `/track.gif" width="1" height="1">
<a href="https://example.com/page">link</a></body></html>`
	body := strings.Join([]string{
		"--mixed",
		"Content-Type: multipart/alternative; boundary=alt",
		"",
		"--alt",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"Hello rich world (plain)",
		"--alt",
		"Content-Type: multipart/related; boundary=rel",
		"",
		"--rel",
		"Content-Type: text/html; charset=utf-8",
		"",
		html,
		"--rel",
		"Content-Type: image/png",
		"Content-ID: <logo@x>",
		"Content-Transfer-Encoding: base64",
		"",
		pngPixel,
		"--rel--",
		"--alt--",
		"--mixed",
		`Content-Type: application/pdf; name="report.pdf"`,
		`Content-Disposition: attachment; filename="../../etc/re\\port` + "\u202e" + `fdp.exe"`,
		"Content-Transfer-Encoding: base64",
		"",
		base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 fake pdf")),
		"--mixed--",
	}, "\n")
	return storetest.Msg{
		From: "Rich Sender <rich@example.net>", Subject: "Rich message",
		ContentType: `multipart/mixed; boundary=mixed`, Body: body,
	}.Bytes()
}

// hostileHTML is an HTML message that tries everything a message must not
// be able to do: scripts, handlers, javascript: URLs, forms, remote CSS and
// images, SVG with script, meta refresh, iframes, objects.
func hostileHTML(remote string) []byte {
	html := `<html><head>
<meta http-equiv="refresh" content="0;url=` + remote + `/refresh">
<link rel="stylesheet" href="` + remote + `/link.css">
<style>body { background-image: url('` + remote + `/style-bg.png'); } @import "` + remote + `/import.css";
@font-face { font-family: x; src: url(` + remote + `/font.woff); } .a { background: u\72l(` + remote + `/escaped.png) }</style>
<script>alert('script ran'); fetch('` + remote + `/script-fetch');</script>
</head><body>
<h1 id="hostile-title">Hostile content</h1>
<img src="x" onerror="alert('onerror ran');new Image().src='` + remote + `/onerror'">
<img src="` + remote + `/remote-img.png">
<a id="jslink" href="javascript:alert('js link')">click me</a>
<form action="` + remote + `/form" method="post"><input name="q" value="secret"><button>Go</button></form>
<div style="background:url(` + remote + `/inline-style.png);width:10px;height:10px">styled</div>
<svg xmlns="http://www.w3.org/2000/svg" onload="alert('svg onload')"><script>alert('svg script')</script><image href="` + remote + `/svg-image.png"/></svg>
<iframe src="` + remote + `/iframe"></iframe><object data="` + remote + `/object"></object>
<video poster="` + remote + `/poster.png"></video><table background="` + remote + `/table-bg.png"><tr><td>cell</td></tr></table>
<body onload="alert('body onload')"></body>
</body></html>`
	return storetest.Msg{
		From: "Mallory <mallory@evil.example>", Subject: "Hostile HTML",
		Date: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), ContentType: "text/html; charset=utf-8", Body: html,
	}.Bytes()
}

// plainMessage is a small text/plain message with a distinct subject.
func plainMessage(i int, from string) []byte {
	return storetest.Msg{
		From: from, Subject: fmt.Sprintf("Message %d", i),
		Date: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute),
		Body: fmt.Sprintf("Body of message %d\nsecond line", i),
	}.Bytes()
}

func pngPixelBytes() []byte {
	b, _ := base64.StdEncoding.DecodeString(pngPixel)
	return b
}
