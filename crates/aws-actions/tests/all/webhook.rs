//! Webhooks: a tiny HTTP server on 127.0.0.1 receives the POST.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_actions::post_webhook;
use aws_actions::webhook::{signature, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use serde_json::json;

struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serves one request with `status`, then stops; gives up after 10 s.
fn serve_once(status: &'static str) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/T0KEN?x=1", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(_) => return,
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = reader.into_inner();
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Length: 2\r\nX-Request-Id: req-7\r\nConnection: close\r\n\r\nok"
        );
        stream.write_all(response.as_bytes()).unwrap();
        let _ = tx.send(Received {
            request_line: request_line.trim_end().to_owned(),
            headers,
            body,
        });
    });
    (url, rx)
}

#[tokio::test]
async fn posts_signed_json() {
    let (url, rx) = serve_once("200 OK");
    let body = json!({"finding": {"rule": "root-usage", "severity": "high"}});
    let outcome = post_webhook(&url, "s3cret", &body).await.unwrap();
    assert_eq!(outcome.request_id.as_deref(), Some("req-7"));
    assert_eq!(outcome.inverse, None);
    assert!(!outcome.detail.contains("T0KEN"), "{}", outcome.detail);

    let got = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(got.request_line, "POST /hooks/T0KEN?x=1 HTTP/1.1");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&got.body).unwrap(),
        body
    );
    assert_eq!(
        got.header(SIGNATURE_HEADER),
        Some(&*signature("s3cret", &got.body))
    );
    assert!(got.header(SIGNATURE_HEADER).unwrap().starts_with("sha256="));
    assert_ne!(
        got.header(SIGNATURE_HEADER),
        Some(&*signature("wrong", &got.body))
    );
    let sent: u64 = got.header(TIMESTAMP_HEADER).unwrap().parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(sent) <= 5);
}

#[tokio::test]
async fn server_error_is_retryable_client_error_is_not() {
    let (url, _rx) = serve_once("500 Internal Server Error");
    let err = post_webhook(&url, "k", &json!({})).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(!err.message.contains("T0KEN"), "{err}");

    let (url, _rx) = serve_once("404 Not Found");
    let err = post_webhook(&url, "k", &json!({})).await.unwrap_err();
    assert!(!err.retryable, "{err}");
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = post_webhook(&format!("http://127.0.0.1:{port}/h"), "k", &json!({}))
        .await
        .unwrap_err();
    assert!(err.retryable, "{err}");
}
