//! Where the columns a workload adds (x ideal, x pgbench, ...) go in the table every
//! workload shares: each group right after the column it follows, in one place for
//! every workload that adds some.

/// Where each of `columns` goes among `headers`: for each `(after, names)`, the names
/// right after the column `after` (skipped if the table has none), counting the ones
/// inserted before; listed in the order they are to be inserted.
pub fn placed(headers: &[&str], columns: &[(&str, &[&'static str])]) -> Vec<(usize, &'static str)> {
    let mut at = Vec::new();
    let mut added = 0;
    for &(after, names) in columns {
        let Some(i) = headers.iter().position(|h| *h == after) else {
            continue;
        };
        for (k, &name) in names.iter().enumerate() {
            at.push((i + 1 + added + k, name));
        }
        added += names.len();
    }
    at
}

/// Inserts the names of `at` ([`placed`]) into `headers`.
pub fn insert_headers(at: &[(usize, &'static str)], headers: &mut Vec<&'static str>) {
    for &(i, name) in at {
        headers.insert(i.min(headers.len()), name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_group_follows_its_column_and_a_missing_one_is_skipped() {
        let mut headers = vec!["model", "p99 ms", "PSS MB"];
        let at = placed(
            &headers,
            &[
                ("p99 ms", &["a", "b"]),
                ("nope", &["x"]),
                ("PSS MB", &["c"]),
            ],
        );
        insert_headers(&at, &mut headers);
        assert_eq!(headers, ["model", "p99 ms", "a", "b", "PSS MB", "c"]);
    }
}
