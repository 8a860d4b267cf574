//! The bodies of TechEmpower's database tests: one `World` row as a JSON object
//! (`/db`), or rows as a JSON array (`/queries`), written straight into the output
//! buffer with their length known first, so the head's `Content-Length` needs no
//! second buffer.
//!
//! The keys are TechEmpower's (`id`, `randomNumber`); the numbers are integers, so
//! nothing needs escaping.

use super::{Query, World};

const ID: &[u8] = b"{\"id\":";
const RANDOM_NUMBER: &[u8] = b",\"randomNumber\":";

/// The length of the body [`write`] writes for these rows.
pub fn len(query: Query, rows: &[World]) -> usize {
    let objects: usize = rows.iter().map(object_len).sum();
    match query {
        Query::One => objects,
        // Brackets, and a comma between two objects.
        Query::Many(_) => 2 + objects + rows.len().saturating_sub(1),
    }
}

/// Appends the body: the first row as an object for [`Query::One`], every row as an
/// array for [`Query::Many`].
pub fn write(query: Query, rows: &[World], out: &mut Vec<u8>) {
    match query {
        Query::One => {
            if let Some(row) = rows.first() {
                object(row, out);
            }
        }
        Query::Many(_) => {
            out.push(b'[');
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                object(row, out);
            }
            out.push(b']');
        }
    }
}

fn object_len(row: &World) -> usize {
    let mut digits = itoa::Buffer::new();
    let id = digits.format(row.id).len();
    let number = digits.format(row.random_number).len();
    ID.len() + id + RANDOM_NUMBER.len() + number + 1
}

fn object(row: &World, out: &mut Vec<u8>) {
    let mut digits = itoa::Buffer::new();
    out.extend_from_slice(ID);
    out.extend_from_slice(digits.format(row.id).as_bytes());
    out.extend_from_slice(RANDOM_NUMBER);
    out.extend_from_slice(digits.format(row.random_number).as_bytes());
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(query: Query, rows: &[World]) -> String {
        let mut out = Vec::new();
        write(query, rows, &mut out);
        assert_eq!(out.len(), len(query, rows), "the length announced");
        String::from_utf8(out).unwrap()
    }

    const A: World = World {
        id: 3217,
        random_number: 2149,
    };
    const B: World = World {
        id: 7,
        random_number: -10000,
    };

    #[test]
    fn one_row_is_an_object() {
        assert_eq!(body(Query::One, &[A]), r#"{"id":3217,"randomNumber":2149}"#);
    }

    #[test]
    fn many_rows_are_an_array_even_of_one() {
        assert_eq!(
            body(Query::Many(2), &[A, B]),
            r#"[{"id":3217,"randomNumber":2149},{"id":7,"randomNumber":-10000}]"#
        );
        assert_eq!(
            body(Query::Many(1), &[B]),
            r#"[{"id":7,"randomNumber":-10000}]"#
        );
    }

    #[test]
    fn the_bodies_are_json_that_serde_reads_back() {
        let rows: Vec<World> = (1..=500)
            .map(|i| World {
                id: i,
                random_number: i32::MAX - i,
            })
            .collect();
        let parsed: serde_json::Value =
            serde_json::from_str(&body(Query::Many(500), &rows)).expect("valid JSON");
        assert_eq!(parsed.as_array().unwrap().len(), 500);
        assert_eq!(parsed[499]["randomNumber"], i32::MAX - 500);
    }
}
