//! What PostgreSQL answers a pipeline, turned into each request's [`Outcome`]: bytes
//! in, outcomes out, no socket (so it is tested on canned bytes).
//!
//! A request is a Bind and an Execute per row and one Sync ([`super::Pipeline`]), and
//! PostgreSQL answers requests in the order they were sent. So the request at the
//! front of the queue owns every message until its ReadyForQuery (the Sync's answer):
//!
//! - BindComplete, CommandComplete (one per Execute: the rows were sent): nothing to
//!   do; the rows are counted at ReadyForQuery, so one a SELECT did not find shows;
//! - DataRow: a row, `id` and `randomNumber` as binary int4 (the format every Bind
//!   asks for: 4 bytes each, read without parsing text, and a column that is not an
//!   int4 shows as a wrong length instead of a number parsed from whatever it is);
//! - ErrorResponse: the request fails with PostgreSQL's message; PostgreSQL skips
//!   the rest of the request up to its Sync, so the next request is untouched. A FATAL
//!   or PANIC one ends the connection, and so does one outside any request;
//! - ReadyForQuery: the request is done, its outcome is ready;
//! - NoticeResponse, ParameterStatus, NotificationResponse: may come at any time,
//!   and mean nothing here.
//!
//! Anything else means the two sides disagree on where they are: an error that ends
//! the connection ([`Replies::read`]).

use std::collections::VecDeque;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::{DataRowBody, ErrorResponseBody, Message};
use postgres_protocol::types::int4_from_sql;

use crate::protocol::{Outcome, World};

/// A request in flight, in the order sent.
#[derive(Debug)]
struct Request {
    token: usize,
    /// The rows asked for.
    wanted: usize,
    rows: Vec<World>,
    /// PostgreSQL's error, if it sent one for this request.
    error: Option<String>,
}

impl Request {
    fn outcome(self) -> Outcome {
        match self.error {
            Some(reason) => Outcome::Failed(reason),
            None if self.rows.len() == self.wanted => Outcome::Rows(self.rows),
            None => Outcome::Failed(format!(
                "database: {} of {} rows found (is the World table filled?)",
                self.rows.len(),
                self.wanted
            )),
        }
    }
}

/// The requests in flight on one connection, and what their replies have brought so
/// far.
#[derive(Debug, Default)]
pub struct Replies {
    in_flight: VecDeque<Request>,
}

impl Replies {
    /// A request of `rows` rows was sent, for `token`.
    pub fn expect(&mut self, token: usize, rows: usize) {
        self.in_flight.push_back(Request {
            token,
            wanted: rows,
            rows: Vec::with_capacity(rows),
            error: None,
        });
    }

    /// How many requests are in flight.
    pub fn len(&self) -> usize {
        self.in_flight.len()
    }

    /// Takes every whole message off the front of `input` and appends the outcome of
    /// each request they finish to `into`, with its token; a partial message stays in
    /// `input` for the next read. An error (one line) means the connection cannot go
    /// on: the caller closes it and fails the rest ([`Self::fail_all`]).
    pub fn read(
        &mut self,
        input: &mut BytesMut,
        into: &mut Vec<(usize, Outcome)>,
    ) -> Result<(), String> {
        while let Some(message) = Message::parse(input).map_err(|e| garbled(&e))? {
            self.handle(message, into)?;
        }
        Ok(())
    }

    fn handle(&mut self, message: Message, into: &mut Vec<(usize, Outcome)>) -> Result<(), String> {
        match message {
            Message::BindComplete
            | Message::CommandComplete(_)
            | Message::NoticeResponse(_)
            | Message::ParameterStatus(_)
            | Message::NotificationResponse(_) => {}
            Message::DataRow(row) => {
                let request = self.in_flight.front_mut().ok_or_else(|| stray("a row"))?;
                request.rows.push(world(&row)?);
            }
            Message::ErrorResponse(body) => {
                let (reason, fatal) = error_of(&body);
                match self.in_flight.front_mut() {
                    Some(request) if !fatal => {
                        request.error.get_or_insert(reason);
                    }
                    _ => return Err(reason),
                }
            }
            Message::ReadyForQuery(_) => {
                let request = self
                    .in_flight
                    .pop_front()
                    .ok_or_else(|| stray("a Sync's answer"))?;
                into.push((request.token, request.outcome()));
            }
            _ => return Err(stray("a message a query does not bring")),
        }
        Ok(())
    }

    /// The connection is over: every request in flight fails, with the error
    /// PostgreSQL had sent for it if any, else with `reason`.
    pub fn fail_all(&mut self, reason: &str, into: &mut Vec<(usize, Outcome)>) {
        into.extend(self.in_flight.drain(..).map(|request| {
            let reason = request.error.unwrap_or_else(|| reason.to_string());
            (request.token, Outcome::Failed(reason))
        }));
    }
}

/// A `World` row from a DataRow: two binary int4 columns.
fn world(row: &DataRowBody) -> Result<World, String> {
    let mut columns = row.ranges();
    let mut int4 = || -> Result<i32, String> {
        let range = columns.next().map_err(|e| garbled(&e))?;
        let bytes = match range {
            Some(Some(range)) => &row.buffer()[range],
            Some(None) => return Err("database: a World row has a NULL column".into()),
            None => return Err("database: a World row has fewer than two columns".into()),
        };
        int4_from_sql(bytes).map_err(|_| "database: a World column is not an integer".into())
    };
    let (id, random_number) = (int4()?, int4()?);
    Ok(World { id, random_number })
}

/// PostgreSQL's message (one line), and whether the error ends the session.
pub fn error_of(body: &ErrorResponseBody) -> (String, bool) {
    let (mut message, mut severity) = (None, None);
    let mut fields = body.fields();
    while let Ok(Some(field)) = fields.next() {
        let value = String::from_utf8_lossy(field.value_bytes());
        match field.type_() {
            b'M' => message = Some(value.into_owned()),
            // V: the severity, never translated (S may be).
            b'V' => severity = Some(value.into_owned()),
            _ => {}
        }
    }
    let fatal = matches!(severity.as_deref(), Some("FATAL" | "PANIC"));
    let message = message.unwrap_or_else(|| "an error without a message".into());
    (
        format!("database: {}", message.replace(['\r', '\n'], " ")),
        fatal,
    )
}

fn garbled(err: &std::io::Error) -> String {
    format!("database: a malformed message from the server ({err})")
}

fn stray(what: &str) -> String {
    format!("database: the server sent {what} out of turn")
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::*;

    /// A backend message: tag, length, body.
    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn data_row(id: i32, random_number: i32) -> Vec<u8> {
        let mut body = 2i16.to_be_bytes().to_vec();
        for value in [id, random_number] {
            body.extend_from_slice(&4i32.to_be_bytes());
            body.extend_from_slice(&value.to_be_bytes());
        }
        message(b'D', &body)
    }

    fn bind_complete() -> Vec<u8> {
        message(b'2', b"")
    }

    fn command_complete() -> Vec<u8> {
        message(b'C', b"SELECT 1\0")
    }

    fn ready() -> Vec<u8> {
        message(b'Z', b"I")
    }

    fn error(severity: &str, text: &str) -> Vec<u8> {
        let body = format!("S{severity}\0V{severity}\0C42P01\0M{text}\0\0");
        message(b'E', body.as_bytes())
    }

    /// The replies to one request of `rows` (id, randomNumber) rows.
    fn answer(rows: &[(i32, i32)]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(id, number) in rows {
            out.extend(bind_complete());
            out.extend(data_row(id, number));
            out.extend(command_complete());
        }
        out.extend(ready());
        out
    }

    fn worlds(rows: &[(i32, i32)]) -> Outcome {
        Outcome::Rows(
            rows.iter()
                .map(|&(id, random_number)| World { id, random_number })
                .collect(),
        )
    }

    /// Feeds `stream` to replies expecting `requests` (token, rows), in pieces cut at
    /// `cuts`: the outcomes, once every byte is used and every request answered.
    fn feed(requests: &[(usize, usize)], stream: &[u8], cuts: &[usize]) -> Vec<(usize, Outcome)> {
        let mut replies = Replies::default();
        for &(token, rows) in requests {
            replies.expect(token, rows);
        }
        let (mut input, mut outcomes, mut from) = (BytesMut::new(), Vec::new(), 0);
        for &cut in cuts.iter().chain([&stream.len()]) {
            input.put_slice(&stream[from..cut]);
            from = cut;
            replies
                .read(&mut input, &mut outcomes)
                .expect("a well-formed stream");
        }
        assert!(input.is_empty(), "every byte used");
        assert_eq!(replies.len(), 0, "every request answered");
        outcomes
    }

    #[test]
    fn a_stream_split_at_every_byte_gives_the_same_outcomes() {
        let one = [(42, 7)];
        let three = [(1, 10), (9_999, -3), (5_000, 0)];
        let stream = [answer(&one), answer(&three)].concat();
        let expected = vec![(7, worlds(&one)), (8, worlds(&three))];
        let requests = [(7, 1), (8, 3)];
        assert_eq!(feed(&requests, &stream, &[]), expected);
        for cut in 1..stream.len() {
            assert_eq!(feed(&requests, &stream, &[cut]), expected, "cut at {cut}");
        }
        let every_byte: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(feed(&requests, &stream, &every_byte), expected);
    }

    #[test]
    fn an_error_fails_only_its_own_request() {
        // The second request's first query fails: PostgreSQL skips to its Sync.
        let mut stream = answer(&[(1, 2)]);
        stream.extend(error("ERROR", "relation \"world\" does not exist"));
        stream.extend(ready());
        stream.extend(answer(&[(3, 4), (5, 6)]));
        let requests = [(1, 1), (2, 2), (3, 2)];
        let expected = vec![
            (1, worlds(&[(1, 2)])),
            (
                2,
                Outcome::Failed("database: relation \"world\" does not exist".into()),
            ),
            (3, worlds(&[(3, 4), (5, 6)])),
        ];
        for cut in 0..stream.len() {
            assert_eq!(feed(&requests, &stream, &[cut]), expected, "cut at {cut}");
        }
    }

    #[test]
    fn notices_and_parameter_changes_are_passed_over() {
        let mut stream = message(b'N', b"SNOTICE\0VNOTICE\0Mhello\0\0");
        stream.extend(message(b'S', b"TimeZone\0UTC\0"));
        stream.extend(answer(&[(1, 1)]));
        assert_eq!(feed(&[(0, 1)], &stream, &[]), vec![(0, worlds(&[(1, 1)]))]);
    }

    #[test]
    fn a_row_not_found_fails_the_request_rather_than_shortening_it() {
        // SELECT 0: no DataRow for the second id.
        let mut stream = answer(&[(1, 1)]);
        stream.truncate(stream.len() - ready().len());
        stream.extend(bind_complete());
        stream.extend(message(b'C', b"SELECT 0\0"));
        stream.extend(ready());
        let outcomes = feed(&[(0, 2)], &stream, &[]);
        assert_eq!(
            outcomes,
            vec![(
                0,
                Outcome::Failed("database: 1 of 2 rows found (is the World table filled?)".into())
            )]
        );
    }

    #[test]
    fn what_cannot_go_on_is_an_error() {
        let mut replies = Replies::default();
        let mut outcomes = Vec::new();
        // A reply with nothing in flight.
        let mut input = BytesMut::from(&ready()[..]);
        assert!(replies.read(&mut input, &mut outcomes).is_err());
        // A column that is not an int4 (an int8 here).
        replies.expect(1, 1);
        let mut body = 2i16.to_be_bytes().to_vec();
        body.extend_from_slice(&8i32.to_be_bytes());
        body.extend_from_slice(&1i64.to_be_bytes());
        let mut input = BytesMut::from(&message(b'D', &body)[..]);
        assert_eq!(
            replies.read(&mut input, &mut outcomes),
            Err("database: a World column is not an integer".into())
        );
        // A FATAL error ends the session, whatever is in flight.
        let mut input = BytesMut::from(&error("FATAL", "terminating connection")[..]);
        assert_eq!(
            replies.read(&mut input, &mut outcomes),
            Err("database: terminating connection".into())
        );
        // A length below 4 is garbage.
        let mut input = BytesMut::from(&b"D\0\0\0\x01"[..]);
        assert!(replies.read(&mut input, &mut outcomes).is_err());
        assert!(outcomes.is_empty());
    }

    #[test]
    fn a_broken_connection_fails_every_request_with_its_own_error_first() {
        let mut replies = Replies::default();
        replies.expect(1, 1);
        replies.expect(2, 1);
        let mut input = BytesMut::from(&error("ERROR", "canceled")[..]);
        let mut outcomes = Vec::new();
        replies.read(&mut input, &mut outcomes).unwrap();
        replies.fail_all("database: the server closed the connection", &mut outcomes);
        assert_eq!(
            outcomes,
            vec![
                (1, Outcome::Failed("database: canceled".into())),
                (
                    2,
                    Outcome::Failed("database: the server closed the connection".into())
                ),
            ]
        );
        assert_eq!(replies.len(), 0);
    }
}
