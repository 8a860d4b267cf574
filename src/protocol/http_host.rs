//! The syntax of a `Host` field value: RFC 3986's `host [ ":" port ]` (RFC 9112 3.2).
//!
//! `host` is an IP-literal in brackets (an IPv6 address, or an IPvFuture), an IPv4
//! address, or a reg-name; every IPv4 address is also a reg-name, so two shapes are
//! checked: brackets, or reg-name bytes (unreserved, sub-delims, %-escapes). `port` is
//! digits, possibly none. An empty value is valid: a client sends one when the target
//! has no authority (RFC 9112 3.2).
//!
//! A table look-up per byte, in a loop of its own: the check runs on every request.

use std::net::Ipv6Addr;

/// Is `value` (without the whitespace around it, which httparse strips) a valid
/// `Host` field value?
pub(super) fn is_valid(value: &[u8]) -> bool {
    let (host_valid, after) = match value {
        [b'[', literal @ ..] => match literal.iter().position(|&b| b == b']') {
            Some(end) => (is_ip_literal(&literal[..end]), &literal[end + 1..]),
            None => return false,
        },
        // A reg-name ends at the first byte it may not hold; only a port may follow.
        _ => (true, &value[reg_name_len(value)..]),
    };
    host_valid
        && match after {
            [] => true,
            [b':', port @ ..] => port.iter().all(u8::is_ascii_digit),
            _ => false,
        }
}

/// Bytes a reg-name holds as they are: unreserved and sub-delims (RFC 3986 2.2, 2.3).
const REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        i += 1;
    }
    table
};

/// The length of the `reg-name = *( unreserved / pct-encoded / sub-delims )` at the
/// start of `value`.
fn reg_name_len(value: &[u8]) -> usize {
    let mut i = 0;
    loop {
        // Bytes that stand for themselves, in a tight loop: most names are only these.
        while i < value.len() && REG_NAME[usize::from(value[i])] {
            i += 1;
        }
        match value.get(i..i + 3) {
            Some([b'%', hex @ ..]) if is_hex(hex) => i += 3,
            _ => return i,
        }
    }
}

/// What the brackets of an IP-literal hold: an IPv6 address, or
/// `IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`.
fn is_ip_literal(inside: &[u8]) -> bool {
    match inside {
        [b'v' | b'V', future @ ..] => match future.iter().position(|&b| b == b'.') {
            Some(dot) if dot > 0 && dot + 1 < future.len() => {
                is_hex(&future[..dot])
                    && future[dot + 1..]
                        .iter()
                        .all(|&b| b == b':' || REG_NAME[usize::from(b)])
            }
            _ => false,
        },
        _ => std::str::from_utf8(inside).is_ok_and(|text| text.parse::<Ipv6Addr>().is_ok()),
    }
}

fn is_hex(digits: &[u8]) -> bool {
    digits.iter().all(u8::is_ascii_hexdigit)
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn names_addresses_and_ports_are_valid() {
        for value in [
            "",
            "x",
            "localhost:8080",
            "example.com",
            "EXAMPLE.com.",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8080",
            "[2001:db8::ffff:1.2.3.4]",
            "[v1.fe80::a+en1]",
            "host:",
            "ex%41mple",
            "a-b_c~d!$&'()*+,;=",
        ] {
            assert!(is_valid(value.as_bytes()), "{value:?}");
        }
    }

    #[test]
    fn anything_else_is_not() {
        for value in [
            "bad host",
            "a:b:c",
            "a:8o",
            "user@host",
            "host/path",
            "ex%4",
            "ex%zz",
            "[::1",
            "::1",
            "[::1]x",
            "[::1]:x",
            "[not an address]",
            "[v.x]",
            "[v1.]",
            "[vg.x]",
            "[fe80::1%25eth0]",
            "h\u{e9}te",
            "a\tb",
            " x",
        ] {
            assert!(!is_valid(value.as_bytes()), "{value:?}");
        }
    }
}
