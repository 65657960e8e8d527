//! Headless Chromium driven over WebDriver: Debian's `chromedriver` on a free loopback port,
//! spoken to as plain HTTP JSON (W3C WebDriver), one session per [`Browser`]. `make browser`
//! (`infra/browser.sh`) installs both. The driver and every browser process it starts run in
//! their own process group, which is ended when the `Browser` is dropped; the driver also dies
//! with the test process (`PR_SET_PDEATHSIG`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dev_server::process::spawn_tied;
use serde_json::{Value, json};

/// The W3C names of element and shadow root references in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const SHADOW_ROOT: &str = "shadow-6066-11e4-a52e-4f735466cecf";

/// How long [`Browser::wait_for`] waits: a page load, an export on the local stack.
pub const WAIT: Duration = Duration::from_secs(30);

pub struct BrowserOptions {
    /// The IANA zone the browser runs in (its `TZ`), so rendered times are known in advance.
    pub time_zone: &'static str,
    pub width: u32,
    pub height: u32,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        Self {
            time_zone: "Asia/Manila",
            width: 1280,
            height: 900,
        }
    }
}

/// A reference to an element, as WebDriver hands it out.
#[derive(Debug, Clone)]
pub struct ElementRef(Value);

pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`
    session: String,
    driver_pid: i32,
    downloads: tempfile::TempDir,
}

/// Whether this run can drive a browser: chromedriver is installed, or the run requires it
/// (`REQUIRE_BROWSER=1`, as `make test` sets, so a missing browser fails there instead of
/// skipping). Otherwise the caller skips, and this says once which command runs it.
pub fn available(test: &str) -> bool {
    let installed = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| dir.join("chromedriver").is_file())
    });
    if installed || std::env::var_os("REQUIRE_BROWSER").is_some() {
        return true;
    }
    eprintln!("skipped {test}: no chromedriver; `make browser-test` installs Chromium and runs it");
    false
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; panics with what to do when
    /// chromedriver is missing.
    pub async fn start(options: BrowserOptions) -> Browser {
        let port = dev_server::stack::free_port().expect("a free port");
        let driver_pid = spawn_driver(port, options.time_zone);
        let http = reqwest::Client::new();
        let driver = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = match http.get(format!("{driver}/status")).send().await {
                Ok(response) => response.json::<Value>().await.ok(),
                Err(_) => None,
            };
            if ready.is_some_and(|status| status["value"]["ready"] == true) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let downloads = tempfile::tempdir().expect("downloads folder");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--lang=en-US",
                    format!("--window-size={},{}", options.width, options.height),
                ],
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                    "intl.accept_languages": "en-US",
                },
            },
        }}});
        let answer: Value = http
            .post(format!("{driver}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("json");
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {answer}"));
        Browser {
            session: format!("{driver}/session/{id}"),
            http,
            driver_pid,
            downloads,
        }
    }

    /// A WebDriver command of this session; its `value`, or a panic naming the error.
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("chromedriver answers");
        let status = response.status();
        let answer: Value = response.json().await.expect("json");
        assert!(status.is_success(), "WebDriver {path}: {status} {answer}");
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page; its return value.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        let body = json!({ "script": script, "args": args });
        self.command(reqwest::Method::POST, "/execute/sync", Some(body))
            .await
    }

    /// Polls `script` until it returns something other than `null` or `false`; that value.
    pub async fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let value = self.execute(script, json!([])).await;
            if !value.is_null() && value != Value::Bool(false) {
                return value;
            }
            if Instant::now() > deadline {
                let page = self.execute(SHADOW_TEXT, json!([])).await;
                panic!("waited {WAIT:?} for {what}; the component shows: {page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An element of the page, by CSS selector.
    pub async fn find(&self, css: &str) -> ElementRef {
        let body = json!({"using": "css selector", "value": css});
        ElementRef(
            self.command(reqwest::Method::POST, "/element", Some(body))
                .await,
        )
    }

    /// An element inside the shadow root of the page's `<security-logs>`, by CSS selector.
    pub async fn find_in_component(&self, css: &str) -> ElementRef {
        let host = self.find("security-logs").await;
        let root = self
            .command(
                reqwest::Method::GET,
                &format!("/element/{}/shadow", host.id()),
                None,
            )
            .await;
        let root = root[SHADOW_ROOT]
            .as_str()
            .expect("a shadow root")
            .to_owned();
        let body = json!({"using": "css selector", "value": css});
        ElementRef(
            self.command(
                reqwest::Method::POST,
                &format!("/shadow/{root}/element"),
                Some(body),
            )
            .await,
        )
    }

    /// A real click (scrolled into view, hit-tested), as a person's.
    pub async fn click(&self, element: &ElementRef) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.id()),
            Some(json!({})),
        )
        .await;
    }

    /// Keystrokes into `element` (`\u{E007}` is Enter).
    pub async fn type_text(&self, element: &ElementRef, text: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.id()),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn set_window_size(&self, width: u32, height: u32) {
        let body = json!({"width": width, "height": height});
        self.command(reqwest::Method::POST, "/window/rect", Some(body))
            .await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let encoded = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64"))
            .expect("a PNG")
    }

    /// The first finished download's name and bytes (waits for it).
    pub async fn downloaded(&self) -> (String, Vec<u8>) {
        let deadline = Instant::now() + WAIT;
        loop {
            let finished = std::fs::read_dir(self.downloads.path())
                .expect("downloads folder")
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .find(|path| path.extension().is_none_or(|ext| ext != "crdownload"));
            if let Some(path) = finished {
                let name = path.file_name().expect("a name").to_string_lossy().into();
                return (name, std::fs::read(&path).expect("the download"));
            }
            assert!(Instant::now() < deadline, "no download within {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the session (the browser quits), then the driver.
    pub async fn quit(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

impl ElementRef {
    fn id(&self) -> &str {
        self.0[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("not an element reference: {}", self.0))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: signalling the process group we created for our own child.
        unsafe {
            libc::killpg(self.driver_pid, libc::SIGTERM);
        }
    }
}

/// A script returning the component's visible text, for failure messages.
const SHADOW_TEXT: &str = "const host = document.querySelector('security-logs'); \
    return host && host.shadowRoot ? host.shadowRoot.querySelector('section')?.innerText : document.body.innerText;";

/// chromedriver on `port`, in its own process group, with `TZ=time_zone`; its pid. It dies with
/// the test process (`spawn_tied`).
fn spawn_driver(port: u16, time_zone: &str) -> i32 {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new("chromedriver");
    command
        .arg(format!("--port={port}"))
        .env("TZ", time_zone)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    spawn_tied(format!("chromedriver-{port}"), command).unwrap_or_else(|error| {
        panic!(
            "chromedriver could not start ({error}): run `make browser` (infra/browser.sh installs Chromium and chromedriver)"
        )
    })
}
