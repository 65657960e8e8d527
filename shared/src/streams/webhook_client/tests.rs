//! The client against a listener on 127.0.0.1 (loopback allowed), and its refusals through a
//! stub resolver. Every address a test could connect to is on this machine, even if the policy
//! were broken: the refused answers are loopback (with loopback refused) and 0.0.0.0.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

use reqwest::header::HeaderName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::*;

/// Answers from a script, one answer per lookup (the last one repeats), and counts lookups.
struct ScriptedResolver {
    answers: Mutex<VecDeque<Vec<IpAddr>>>,
    lookups: Mutex<Vec<String>>,
}

impl ScriptedResolver {
    fn new(answers: &[&[IpAddr]]) -> Self {
        Self {
            answers: Mutex::new(answers.iter().map(|a| a.to_vec()).collect()),
            lookups: Mutex::new(Vec::new()),
        }
    }
}

impl Resolve for ScriptedResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        self.lookups.lock().unwrap().push(host.to_owned());
        let mut answers = self.answers.lock().unwrap();
        let answer = if answers.len() > 1 {
            answers.pop_front().unwrap_or_default()
        } else {
            answers.front().cloned().unwrap_or_default()
        };
        Ok(answer
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect())
    }
}

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const UNSPECIFIED: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// A receiver on 127.0.0.1 that answers each connection's one request with `response` (then
/// closes it, so the next send connects again) and hands back the requests it read.
async fn receiver(response: &'static str, connections: usize) -> (u16, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind((LOCAL, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut requests = Vec::new();
        for _ in 0..connections {
            let (mut socket, _) = listener.accept().await.unwrap();
            requests.push(read_request(&mut socket).await);
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.ok();
        }
        requests
    });
    (port, task)
}

/// Reads the head and the `Content-Length` body of one request.
async fn read_request(socket: &mut tokio::net::TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.unwrap();
        bytes.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&bytes).to_string();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if bytes.len() >= head_end + 4 + length || n == 0 {
                return text;
            }
        }
        if n == 0 {
            return text;
        }
    }
}

const NO_CONTENT: &str = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
        .collect()
}

fn local_url(text: &str) -> WebhookUrl {
    WebhookUrl::parse(text, LoopbackHttp::Allowed).unwrap()
}

fn dev_client(resolver: ScriptedResolver) -> WebhookClient<ScriptedResolver> {
    WebhookClient::new(resolver, LoopbackHttp::Allowed).unwrap()
}

#[tokio::test]
async fn a_2xx_delivers_the_body_and_headers() {
    let (port, server) = receiver(NO_CONTENT, 1).await;
    let client = dev_client(ScriptedResolver::new(&[&[LOCAL]]));
    let sent = client
        .send(
            &local_url(&format!("http://127.0.0.1:{port}/hook")),
            br#"{"records":[]}"#.to_vec(),
            headers(&[
                ("security-logs-signature", "t=1,v1=ab"),
                ("authorization", "Splunk s3cr3t"),
            ]),
        )
        .await;
    assert_eq!(sent, Ok(Delivered { status: 204 }));
    let request = &server.await.unwrap()[0];
    assert!(request.starts_with("POST /hook HTTP/1.1"), "{request}");
    let lower = request.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/json"),
        "{request}"
    );
    assert!(
        lower.contains("security-logs-signature: t=1,v1=ab"),
        "{request}"
    );
    assert!(lower.contains("authorization: splunk s3cr3t"), "{request}");
    assert!(request.ends_with(r#"{"records":[]}"#), "{request}");
}

#[tokio::test]
async fn answers_are_classified_and_reasons_never_carry_the_auth_header() {
    let cases = [
        (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            true,
        ),
        (
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            true,
        ),
        (
            "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            false,
        ),
        (
            "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            false,
        ),
    ];
    for (response, retried) in cases {
        let (port, server) = receiver(response, 1).await;
        let client = dev_client(ScriptedResolver::new(&[&[LOCAL]]));
        let error = client
            .send(
                &local_url(&format!("http://localhost:{port}/")),
                b"{}".to_vec(),
                headers(&[("authorization", "Splunk s3cr3t")]),
            )
            .await
            .expect_err(response);
        assert_eq!(
            matches!(error, SendError::Retry { .. }),
            retried,
            "{response}: {error:?}"
        );
        assert!(!error.reason().contains("s3cr3t"), "{error:?}");
        server.await.unwrap();
    }
}

#[tokio::test]
async fn a_refused_connection_and_a_timeout_are_retried() {
    // A port with no listener: bind one, note it, close it.
    let port = TcpListener::bind((LOCAL, 0))
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = dev_client(ScriptedResolver::new(&[&[LOCAL]]));
    let url = local_url(&format!("http://127.0.0.1:{port}/"));
    match client.send(&url, b"{}".to_vec(), HeaderMap::new()).await {
        Err(SendError::Retry { reason, .. }) => assert!(reason.contains("refused"), "{reason}"),
        other => panic!("{other:?}"),
    }

    // A listener that accepts and never answers.
    let silent = TcpListener::bind((LOCAL, 0)).await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let (socket, _) = silent.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(socket);
    });
    let quick = WebhookClient::with_timeout(
        ScriptedResolver::new(&[&[LOCAL]]),
        LoopbackHttp::Allowed,
        Duration::from_millis(300),
    )
    .unwrap();
    let url = local_url(&format!("http://127.0.0.1:{port}/"));
    match quick.send(&url, b"{}".to_vec(), HeaderMap::new()).await {
        Err(SendError::Retry { reason, .. }) => assert!(reason.contains("no answer"), "{reason}"),
        other => panic!("{other:?}"),
    }
    hold.abort();
}

#[tokio::test]
async fn a_name_is_resolved_and_vetted_at_every_connection() {
    // The first lookup finds the receiver; the second (a new connection, the first was closed)
    // rebinds the name to an address the policy refuses.
    let (port, server) = receiver(NO_CONTENT, 1).await;
    let client = dev_client(ScriptedResolver::new(&[&[LOCAL], &[UNSPECIFIED]]));
    let url = local_url(&format!("http://localhost:{port}/"));
    assert!(
        client
            .send(&url, b"{}".to_vec(), HeaderMap::new())
            .await
            .is_ok()
    );
    server.await.unwrap();
    match client.send(&url, b"{}".to_vec(), HeaderMap::new()).await {
        Err(SendError::Stop { reason }) => {
            assert!(
                reason.contains("0.0.0.0") && reason.contains("not a public address"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(client.resolver.lookups.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn with_loopback_refused_nothing_local_is_reached() {
    // Production policy: a name resolving to loopback, and a literal (parsed under the dev
    // setting, sent by a production client), both stop the stream without a connection.
    let listener = TcpListener::bind((LOCAL, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let client =
        WebhookClient::new(ScriptedResolver::new(&[&[LOCAL]]), LoopbackHttp::Refused).unwrap();
    let named = WebhookUrl::parse(
        &format!("https://siem.example.com:{port}/"),
        LoopbackHttp::Refused,
    )
    .unwrap();
    match client.send(&named, b"{}".to_vec(), HeaderMap::new()).await {
        Err(SendError::Stop { reason }) => assert!(reason.contains("address refused"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let literal = local_url(&format!("https://127.0.0.1:{port}/"));
    match client
        .send(&literal, b"{}".to_vec(), HeaderMap::new())
        .await
    {
        Err(SendError::Stop { reason }) => assert!(reason.contains("127.0.0.1"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // No connection reached the listener: its accept queue is empty.
    let pending = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
    assert!(pending.is_err(), "a connection was made");
}

#[tokio::test]
async fn a_name_resolving_to_nothing_stops_the_stream() {
    let client = dev_client(ScriptedResolver::new(&[&[]]));
    let url = local_url("https://siem.example.com/");
    match client.send(&url, b"{}".to_vec(), HeaderMap::new()).await {
        Err(SendError::Stop { reason }) => assert!(reason.contains("no address"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
