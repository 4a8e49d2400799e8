package pop3server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// poplibScript drives Python's poplib through every command and prints what it
// saw as JSON.
const poplibScript = `
import base64, json, os, poplib, ssl, sys

host, port = os.environ["POP_HOST"], int(os.environ["POP_PORT"])
user, pw = os.environ["POP_USER"], os.environ["POP_PASS"]
out = {}
p = poplib.POP3(host, port, timeout=30)
out["welcome"] = p.getwelcome().decode()
if os.environ.get("POP_STLS"):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    p.stls(context=ctx)
out["capa"] = sorted(p.capa().keys())
p.user(user)
p.pass_(pw)
out["stat"] = list(p.stat())
resp, listing, _ = p.list()
out["list"] = [l.decode() for l in listing]
resp, uidls, _ = p.uidl()
out["uidl"] = [l.decode() for l in uidls]
msgs = []
for i in range(1, out["stat"][0] + 1):
    resp, lines, octets = p.retr(i)
    data = b"".join(l + b"\r\n" for l in lines)
    msgs.append({"resp": resp.decode(), "octets": octets, "data": base64.b64encode(data).decode()})
out["retr"] = msgs
resp, lines, octets = p.top(1, 1)
out["top"] = base64.b64encode(b"".join(l + b"\r\n" for l in lines)).decode()
out["dele"] = p.dele(1).decode()
out["noop"] = p.noop().decode()
out["rset"] = p.rset().decode()
out["dele2"] = p.dele(2).decode()
out["quit"] = p.quit().decode()
print(json.dumps(out))
`

type poplibResult struct {
	Welcome string   `json:"welcome"`
	Capa    []string `json:"capa"`
	Stat    []int    `json:"stat"`
	List    []string `json:"list"`
	UIDL    []string `json:"uidl"`
	Retr    []struct {
		Resp   string `json:"resp"`
		Octets int    `json:"octets"`
		Data   string `json:"data"`
	} `json:"retr"`
	Top  string `json:"top"`
	Dele string `json:"dele"`
	Quit string `json:"quit"`
}

func runPoplib(t *testing.T, e *env, stls bool) poplibResult {
	t.Helper()
	py := needTool(t, "python3", "python3")
	script := filepath.Join(t.TempDir(), "pop.py")
	if err := os.WriteFile(script, []byte(poplibScript), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(e.addr, ":")
	cmd := exec.CommandContext(t.Context(), py, script)
	cmd.Env = append(os.Environ(), "POP_HOST="+host, "POP_PORT="+port, "POP_USER="+alice, "POP_PASS="+alicePw)
	if stls {
		cmd.Env = append(cmd.Env, "POP_STLS=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python poplib: %v\n%s", err, stderr.String())
	}
	var res poplibResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("poplib output %q: %v", out, err)
	}
	return res
}

func TestPythonPoplib(t *testing.T) {
	t.Parallel()
	for _, stls := range []bool{false, true} {
		t.Run(fmt.Sprintf("stls=%v", stls), func(t *testing.T) {
			t.Parallel()
			var opts []envOpt
			if stls {
				opts = []envOpt{withTLS(), noDev()}
			}
			e := newEnv(t, opts...)
			raws := [][]byte{
				msg("first", "hello\n.dotted line\n..two dots\n"),
				msg("second", "second body\n"),
			}
			bare := []byte("Subject: appended with bare LF\n\nline\n.dot\nlast")
			var uids []uint32
			for _, r := range raws {
				uids = append(uids, e.deliver(r))
			}
			uids = append(uids, e.appendRaw(bare))
			wants := [][]byte{raws[0], raws[1], wireForm(bare)}

			res := runPoplib(t, e, stls)
			if !strings.HasPrefix(res.Welcome, "+OK pop.example.org") {
				t.Errorf("welcome %q", res.Welcome)
			}
			for _, c := range []string{"TOP", "UIDL", "USER", "SASL", "PIPELINING", "RESP-CODES"} {
				if !slices.Contains(res.Capa, c) {
					t.Errorf("poplib CAPA %v lacks %s", res.Capa, c)
				}
			}
			total := 0
			for _, w := range wants {
				total += len(w)
			}
			if len(res.Stat) != 2 || res.Stat[0] != 3 || res.Stat[1] != total {
				t.Errorf("stat = %v, want [3 %d]", res.Stat, total)
			}
			uv := e.mailbox("INBOX").UIDValidity
			for i, w := range wants {
				if want := fmt.Sprintf("%d %d", i+1, len(w)); res.List[i] != want {
					t.Errorf("list[%d] = %q, want %q", i, res.List[i], want)
				}
				if want := fmt.Sprintf("%d %d.%d", i+1, uv, uids[i]); res.UIDL[i] != want {
					t.Errorf("uidl[%d] = %q, want %q", i, res.UIDL[i], want)
				}
				got, _ := base64.StdEncoding.DecodeString(res.Retr[i].Data)
				if !bytes.Equal(got, w) {
					t.Errorf("retr %d = %q, want %q", i+1, got, w)
				}
				if res.Retr[i].Octets != len(w) {
					t.Errorf("retr %d: poplib counted %d octets, LIST said %d", i+1, res.Retr[i].Octets, len(w))
				}
			}
			top, _ := base64.StdEncoding.DecodeString(res.Top)
			hdr, _, _ := bytes.Cut(raws[0], []byte("\r\n\r\n"))
			if want := string(hdr) + "\r\n\r\nhello\r\n"; string(top) != want {
				t.Errorf("top 1 1 = %q, want %q", top, want)
			}
			if !strings.HasPrefix(res.Quit, "+OK") {
				t.Errorf("quit = %q", res.Quit)
			}
			// DELE 1, RSET, DELE 2, QUIT: only message 2 is gone.
			if got := e.inboxUIDs(); !slices.Equal(got, []uint32{uids[0], uids[2]}) {
				t.Errorf("INBOX after the poplib session = %v", got)
			}
		})
	}
}
