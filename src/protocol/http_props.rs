//! Property tests of the HTTP session (proptest): any valid stream of requests (some
//! of them needing work), split at any points, gets the same replies as when sent
//! whole, one per request, in order; any bytes at all, split anywhere, get the same
//! replies too, and never panic.

use proptest::prelude::*;

use super::{drive, responses, without_dates};

/// One valid request, and whether it is a HEAD (its reply has no body).
fn request() -> impl Strategy<Value = (Vec<u8>, bool)> {
    let method = prop_oneof![Just("GET"), Just("HEAD"), Just("POST"), Just("CHUNKED")];
    // The work routes often, as any other path: `drive` does their work at once.
    let path = prop_oneof![
        Just("/cpu".to_string()),
        Just("/wait?q=1".to_string()),
        "/[a-z0-9/._-]{0,12}",
    ];
    let headers = prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,10}", "[ -~]{0,24}"), 0..4);
    let body = prop::collection::vec(any::<u8>(), 0..40);
    (method, path, any::<bool>(), headers, body).prop_map(
        |(method, path, http10, headers, body)| {
            // HTTP/1.0 has no transfer codings (RFC 9112 6.1): its bodies have a length.
            let method = if http10 && method == "CHUNKED" {
                "POST"
            } else {
                method
            };
            let verb = if method == "CHUNKED" { "PUT" } else { method };
            let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
            let mut text = format!("{verb} {path} {version}\r\nHost: x\r\n");
            if http10 {
                text.push_str("Connection: keep-alive\r\n");
            }
            for (i, (name, value)) in headers.iter().enumerate() {
                // Prefixed so a generated name never is one the server interprets.
                text.push_str(&format!("X-{i}-{name}: {}\r\n", value.trim()));
            }
            let mut bytes = match method {
                "POST" => format!("{text}Content-Length: {}\r\n\r\n", body.len()).into_bytes(),
                "CHUNKED" => format!("{text}Transfer-Encoding: chunked\r\n\r\n").into_bytes(),
                _ => format!("{text}\r\n").into_bytes(),
            };
            match method {
                "POST" => bytes.extend_from_slice(&body),
                "CHUNKED" => {
                    if !body.is_empty() {
                        bytes.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
                        bytes.extend_from_slice(&body);
                        bytes.extend_from_slice(b"\r\n");
                    }
                    bytes.extend_from_slice(b"0\r\n\r\n");
                }
                _ => {}
            }
            (bytes, method == "HEAD")
        },
    )
}

/// Cuts `stream` at the given points (taken modulo its length), in order.
fn split(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut from = 0;
    for point in points.into_iter().chain([stream.len()]) {
        chunks.push(stream[from..point].to_vec());
        from = point;
    }
    chunks
}

fn drive_chunks(chunks: &[Vec<u8>]) -> (Vec<u8>, Option<crate::protocol::Close>) {
    let slices: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    let (out, close) = drive(&slices);
    (without_dates(&out), close)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_requests_split_anywhere_get_the_same_replies(
        requests in prop::collection::vec(request(), 1..8),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let stream: Vec<u8> = requests.iter().flat_map(|(r, _)| r.clone()).collect();
        let heads: Vec<bool> = requests.iter().map(|(_, head)| *head).collect();
        let whole = drive_chunks(std::slice::from_ref(&stream));
        prop_assert_eq!(whole.1, None);
        let replies = responses(&whole.0, &heads);
        prop_assert_eq!(replies.len(), requests.len());
        prop_assert!(replies.iter().all(|(status, _, _)| *status == 200));
        prop_assert_eq!(drive_chunks(&split(&stream, &cuts)), whole);
    }

    #[test]
    fn any_bytes_split_anywhere_get_the_same_replies(
        stream in prop::collection::vec(
            prop_oneof![
                any::<u8>(),
                Just(b'\r'), Just(b'\n'), Just(b' '), Just(b':'), Just(b'G'),
            ],
            0..600,
        ),
        prefix in prop::sample::select(vec![
            &b""[..], b"GET / HTTP/1.1\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\nHEAD /cpu HTTP/1.1\r\n",
        ]),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut input = prefix.to_vec();
        input.extend_from_slice(&stream);
        let whole = drive_chunks(std::slice::from_ref(&input));
        prop_assert_eq!(drive_chunks(&split(&input, &cuts)), whole);
    }
}
