package server_test

// The web console in a real headless Chromium (Debian's chromium, driven
// with chromedp): sign-in, every page, the live decision stream, the
// playground, an XSS attempt in a token's subject, CSRF and a cross-site
// form, a narrow screen, keyboard navigation, a role session with fewer
// rights, sign-out. The same run writes the screenshots docs/console.md
// shows: set KEYLESS_CONSOLE_SCREENSHOTS=docs/console (from the repository
// root: ../../docs/console from this package) to refresh them.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/decision"
)

// chromium returns the system browser, or skips saying why there is none.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the browser tests run Chromium, an external program")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH (apt-get install chromium; .ci/run installs it): the console's browser tests cannot run")
	return ""
}

// browser is one headless Chromium with a fresh profile, closed when the
// test ends. Dialogs (alert, confirm) are counted and dismissed: a script
// a token smuggled in would open one.
type browser struct {
	t       *testing.T
	ctx     context.Context
	dialogs atomic.Int32
	shots   string
}

func newBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // a container's small /dev/shm crashes tabs
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, shots: os.Getenv("KEYLESS_CONSOLE_SCREENSHOTS")}
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	// Start the browser now (its first run must have no deadline: the
	// deadline would end the browser).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	dismiss := func() {
		_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev.(type) {
		case *page.EventJavascriptDialogOpening, page.EventJavascriptDialogOpening:
			b.dialogs.Add(1)
			go dismiss()
		}
	}); err != nil {
		t.Fatalf("listen to the page: %v", err)
	}
	return b
}

// run runs steps, bounded by a minute.
func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	get(b, what, chromedp.Steps(steps...))
}

// get runs one action, bounded by a minute, and returns its value; a
// failure reports the page the browser was on.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		url, _ := chromedp.Run(b.ctx, chromedp.Location())
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		b.t.Fatalf("%s: %v\nat %s:\n%s", what, err, url, body)
	}
	return v
}

// text returns the text of the first element the CSS selector sel matches.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible)))
}

// shot saves a full-page screenshot as <shots>/<name>.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	buf := get(b, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// open navigates to a console page and waits for its heading.
func (b *browser) open(url string) {
	b.t.Helper()
	b.run("open "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("h1")))
}

// fill sets the value of the form field the CSS selector sel matches, as
// typing would (input and change events fire).
func fill(sel, value string) chromedp.Action[chromedp.Void] {
	js, _ := json.Marshal(map[string]string{"sel": sel, "value": value})
	return chromedp.Evaluate[chromedp.Void](`(a => { const e = document.querySelector(a.sel); e.value = a.value;
		e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); })(` + string(js) + `)`)
}

// signIn fills and sends the login form; it waits for the page that
// follows a sign-in, or for the form's error when wantOK is false.
func (b *browser) signIn(console, id, secret, token string, wantOK bool) {
	b.t.Helper()
	then := chromedp.WaitNotPresent(chromedp.CSS("#access_key_id"))
	if !wantOK {
		then = chromedp.WaitVisible(chromedp.CSS("#login-error"))
	}
	b.open(console + "login")
	b.run("sign in", chromedp.WaitVisible(chromedp.CSS("#access_key_id")), fill("#access_key_id", id),
		fill("#secret_access_key", secret), fill("#session_token", token),
		chromedp.Click(chromedp.CSS(`form.stack button[type=submit]`)),
		then, chromedp.WaitVisible(chromedp.CSS("h1")))
}

func TestConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	f := newFixture(t, fastDecisions)
	ctx := context.Background()
	console := f.srv.URL + "/_keyless/console/"

	// The log holds an allowed exchange and a denial whose subject tries
	// to run a script wherever it is shown.
	good := f.mint(t, ciclaims.Params{})
	if _, err := f.assume(ctx, good, nil); err != nil {
		t.Fatalf("allowed exchange: %v", err)
	}
	const xss = `<img src=x onerror="alert(document.domain)"><script>alert(1)</script>`
	_, err := f.assume(ctx, f.mint(t, ciclaims.Params{Extra: map[string]string{"sub": xss}}), nil)
	wantCode(t, err, "AccessDenied")
	denied := awaitDecision(t, f.srv.URL, requestIDOf(t, err))

	b := newBrowser(t, exe)

	t.Run("signed out, every page leads to the login form", func(t *testing.T) {
		b.t = t
		b.run("open the overview", chromedp.Navigate(console+"roles"), chromedp.WaitVisible(chromedp.CSS("#access_key_id")))
		next := get(b, "read next", chromedp.Evaluate[string](`document.querySelector("input[name=next]").value`))
		if next != "/_keyless/console/roles" {
			t.Errorf("login form returns to %q, want the page asked for", next)
		}
		b.shot("login")
	})

	t.Run("a wrong secret is refused without saying why", func(t *testing.T) {
		b.t = t
		b.signIn(console, f.srv.Root.AccessKeyID, "wrong-secret", "", false)
		if got := b.text("#login-error"); !strings.Contains(got, "Sign-in failed") {
			t.Errorf("error = %q", got)
		}
		awaitLogged(t, f.srv.URL, "the refused sign-in", func(d decision.Record) bool {
			return d.Action == "keyless:ConsoleLogin" && d.Decision == "deny" && d.Reason == "bad signature"
		})
	})

	t.Run("root signs in and sees the overview", func(t *testing.T) {
		b.t = t
		b.signIn(console, f.srv.Root.AccessKeyID, f.srv.Root.SecretAccessKey, "", true)
		for sel, want := range map[string]string{"#count-issuers": "1", "#count-providers": "1", "#count-roles": "1"} {
			if got := b.text(sel); got != want {
				t.Errorf("%s = %q, want %q", sel, got, want)
			}
		}
		if n := b.text("#count-denied"); n == "0" {
			t.Errorf("the overview counts no denials")
		}
		b.shot("overview")
	})

	t.Run("keyboard: the first Tab reaches the skip link, the next the menu", func(t *testing.T) {
		b.t = t
		b.open(console)
		b.run("Tab", chromedp.KeyEvent("\t"))
		first := get(b, "focused", chromedp.Evaluate[string](`document.activeElement.className`))
		b.run("Tab", chromedp.KeyEvent("\t"))
		second := get(b, "focused", chromedp.Evaluate[string](`document.activeElement.textContent`))
		if first != "skip" || second != "Overview" {
			t.Errorf("Tab focused %q then %q, want the skip link then the menu's first entry", first, second)
		}
		b.run("Enter on Issuers", chromedp.KeyEvent("\t"), chromedp.KeyEvent("\r"), chromedp.WaitVisible(`//h1[text()="Issuers"]`))
	})

	t.Run("issuers, providers and roles", func(t *testing.T) {
		b.t = t
		b.open(console + "issuers")
		if body := b.text("main"); !strings.Contains(body, "oidc.circleci.com/org/"+f.org) || !strings.Contains(body, "signing") {
			t.Errorf("issuers page lacks the issuer or its signing key:\n%s", body)
		}
		b.shot("issuers")
		b.open(console + "providers")
		if body := b.text("main"); !strings.Contains(body, f.providerURL) || !strings.Contains(body, f.org) {
			t.Errorf("providers page lacks the provider:\n%s", body)
		}
		b.shot("providers")
		b.open(console + "roles")
		b.run("open the role", chromedp.Click(`//a[text()="circleci-deploy"]`), chromedp.WaitVisible(chromedp.CSS(".statement")))
		body := b.text("main")
		for _, want := range []string{"sts:AssumeRoleWithWebIdentity", "StringLike", f.providerURL + ":sub", "org/" + f.org + "/project/" + f.project + "/*", "Recent decisions"} {
			if !strings.Contains(body, want) {
				t.Errorf("role page lacks %q:\n%s", want, body)
			}
		}
		b.shot("role")
	})

	t.Run("a decision's trace; the subject's markup stays text", func(t *testing.T) {
		b.t = t
		b.open(console + "decisions/" + denied.ID)
		if got := b.text("#subject"); got != xss {
			t.Errorf("subject shows %q, want the token's text %q", got, xss)
		}
		imgs := get(b, "count img", chromedp.Evaluate[int](`document.querySelectorAll("main img").length`))
		scripts := get(b, "count script", chromedp.Evaluate[int](`document.querySelectorAll("main script").length`))
		if imgs != 0 || scripts != 0 || b.dialogs.Load() != 0 {
			t.Errorf("the subject became markup: %d img, %d script elements, %d dialogs", imgs, scripts, b.dialogs.Load())
		}
		if got := b.text("#closest-miss"); !strings.Contains(got, "sub is") {
			t.Errorf("closest miss = %q", got)
		}
		if b.text("#fix") == "" {
			t.Error("no fix shown")
		}
		tree := b.text("#trace")
		for _, want := range []string{"trust policy", "Statement 1", "StringLike", "expected", "got", "not matched"} {
			if !strings.Contains(tree, want) {
				t.Errorf("trace lacks %q:\n%s", want, tree)
			}
		}
		b.shot("decision")
	})

	t.Run("the stream receives a new decision live", func(t *testing.T) {
		b.t = t
		b.open(console + "decisions")
		b.shot("decisions")
		probe := fmt.Sprintf("live-probe-%d", time.Now().UnixNano())
		_, err := f.assume(ctx, f.mint(t, ciclaims.Params{Extra: map[string]string{"sub": probe}}), nil)
		wantCode(t, err, "AccessDenied")
		b.run("wait for the new row", chromedp.WaitVisible(`//table[@id="stream"]//td[text()="`+probe+`"]`))
		first := get(b, "top row", chromedp.Evaluate[string](`document.querySelector("#stream tbody tr td.sub").textContent`))
		if first != probe {
			t.Errorf("newest row's subject = %q, want %q at the top", first, probe)
		}
	})

	t.Run("playground: a pasted token, then composed claims", func(t *testing.T) {
		b.t = t
		b.open(console + "playground")
		b.run("decide a pasted token", fill("#role", "circleci-deploy"),
			fill("#token", f.mint(t, ciclaims.Params{})),
			chromedp.Click(chromedp.CSS("#run")), chromedp.WaitVisible(chromedp.CSS("#verdict")))
		if got := b.text("#verdict"); !strings.EqualFold(got, "allow") {
			t.Errorf("pasted token's verdict = %q, want allow", got)
		}
		b.run("compose claims of another project", chromedp.Click(chromedp.CSS("#mode-compose")),
			fill("#issuer", f.org),
			fill(`input[name=project_id]`, "cccccccc-0000-4000-8000-00000000000c"),
			chromedp.Click(chromedp.CSS("#run")), chromedp.WaitVisible(chromedp.CSS("#trace")))
		if got := b.text("#verdict"); !strings.EqualFold(got, "deny") {
			t.Errorf("composed token's verdict = %q, want deny", got)
		}
		if got := b.text("#closest-miss"); !strings.Contains(got, "cccccccc-0000-4000-8000-00000000000c") {
			t.Errorf("closest miss = %q, want the composed project", got)
		}
		b.shot("playground")
		// The playground decided; it did not exchange.
		var simulated bool
		for _, line := range strings.Split(f.srv.Log(), "\n") {
			if !strings.Contains(line, "cccccccc-0000-4000-8000-00000000000c") {
				continue
			}
			if strings.Contains(line, `"msg":"assume decision"`) {
				t.Errorf("the playground's decision was logged as an exchange: %s", line)
			}
			simulated = simulated || strings.Contains(line, `"msg":"simulated decision"`)
		}
		if !simulated {
			t.Error("the server's log lacks the playground's simulated decision")
		}
		// Asking leaves a trace too: the decision log records the
		// simulation, as root's, under its own action.
		awaitLogged(t, f.srv.URL, "the playground's simulation", func(d decision.Record) bool {
			return d.Action == "keyless:SimulateWebIdentity" && d.Principal == "arn:aws:iam::123456789012:root" &&
				strings.Contains(d.Subject, "cccccccc-0000-4000-8000-00000000000c")
		})
	})

	t.Run("CSRF: a POST without the session's token is refused", func(t *testing.T) {
		b.t = t
		b.open(console)
		status := get(b, "post without the token", chromedp.Evaluate[int](`fetch("/_keyless/console/logout", {method: "POST",
			headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "csrf=forged"}).then(r => r.status)`,
			func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }))
		if status != http.StatusForbidden {
			t.Errorf("forged POST answered %d, want 403", status)
		}
		b.open(console)
		if b.text("h1") != "Overview" {
			t.Error("the forged POST signed the session out")
		}
	})

	t.Run("a form on another site cannot sign the visitor out", func(t *testing.T) {
		b.t = t
		csrf := get(b, "read the token", chromedp.Evaluate[string](`document.querySelector("form.logout input[name=csrf]").value`))
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `<!doctype html><form id=f method=post action="%slogout"><input name=csrf value="%s"></form>
<script>document.getElementById("f").submit()</script>`, console, csrf)
		}))
		defer evil.Close()
		// localhost is another site than 127.0.0.1 to the browser.
		b.run("visit the other site", chromedp.Navigate(strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)),
			chromedp.WaitVisible(chromedp.CSS("h1")))
		b.open(console)
		if b.text("h1") != "Overview" {
			t.Error("a cross-site form signed the session out")
		}
	})

	t.Run("a narrow screen needs no sideways scrolling", func(t *testing.T) {
		b.t = t
		b.run("narrow", chromedp.EmulateViewport(375, 800))
		for _, p := range []string{"", "decisions/" + denied.ID, "playground"} {
			b.open(console + p)
			wide := get(b, "measure", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
			if wide {
				t.Errorf("%s is wider than a 375 px screen", console+p)
			}
		}
		b.shot("narrow-decision")
		b.run("wide again", chromedp.EmulateViewport(1280, 900))
	})

	t.Run("sign out", func(t *testing.T) {
		b.t = t
		b.open(console)
		b.run("sign out", chromedp.Click(chromedp.CSS(`form.logout button`)), chromedp.WaitVisible(chromedp.CSS("#access_key_id")))
		if !strings.Contains(b.text("main"), "You are signed out") {
			t.Error("no signed-out notice")
		}
		b.run("back to the overview", chromedp.Navigate(console), chromedp.WaitVisible(chromedp.CSS("#access_key_id")))
	})

	t.Run("a role session sees what its policy allows", func(t *testing.T) {
		b.t = t
		f.putRolePolicy(t, "circleci-deploy", "console", allow("keyless:ConsoleLogin", "keyless:ListDecisions",
			"keyless:GetDecision", "iam:ListRoles", "iam:GetRole"))
		s := f.webSession(t, "", ciclaims.Params{}, nil)
		b.signIn(console, aws.ToString(s.creds.AccessKeyId), aws.ToString(s.creds.SecretAccessKey), aws.ToString(s.creds.SessionToken), true)
		if got := b.text("#count-roles"); got != "1" {
			t.Errorf("roles count = %q", got)
		}
		if got := b.text("#count-issuers"); got != "—" {
			t.Errorf("issuers count = %q for a session not allowed keyless:ListIssuers", got)
		}
		b.open(console + "issuers")
		if got := b.text("h1"); got != "Not allowed" {
			t.Errorf("issuers page for a session without keyless:ListIssuers: %q", got)
		}
		awaitLogged(t, f.srv.URL, "the refused issuers page", func(d decision.Record) bool {
			return d.Action == "keyless:ListIssuers" && d.Decision == "deny" && strings.HasPrefix(d.Principal, "arn:aws:sts::123456789012:assumed-role/circleci-deploy/")
		})
	})

	if n := b.dialogs.Load(); n != 0 {
		t.Errorf("%d dialogs opened during the run", n)
	}
}
