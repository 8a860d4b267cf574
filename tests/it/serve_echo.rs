//! The echo protocol under every model: large payloads, many clients, a client that
//! stops reading (back-pressure), and clients that reset mid-stream.

use std::io::{Read, Write};
use std::time::Duration;

use crate::util::{pattern, ServerProc};

per_model!([
    echo_1mib_while_reading,
    echo_100_concurrent_clients,
    echo_back_pressure_8mib_after_a_pause,
    echo_survives_resets,
]);

/// Sends `payload` from a second thread while this one reads the echo back.
fn echo_concurrently(server: &ServerProc, payload: Vec<u8>, pause_before_reading: Duration) {
    let mut stream = server.connect();
    let mut writer = stream.try_clone().unwrap();
    let expected = payload.clone();
    let sender = std::thread::spawn(move || {
        writer.write_all(&payload).expect("send the payload");
    });
    std::thread::sleep(pause_before_reading);
    let mut echoed = vec![0u8; expected.len()];
    stream.read_exact(&mut echoed).expect("read the whole echo");
    sender.join().unwrap();
    assert!(echoed == expected, "echo differs from what was sent");
}

fn echo_1mib_while_reading(model: &str) {
    let server = ServerProc::start(model, "echo", &[]);
    echo_concurrently(&server, pattern(1 << 20, 1), Duration::ZERO);
}

/// A client that sends 8 MiB but reads nothing for a second: the server must stop
/// reading from it (its buffers are bounded) and, once the client reads, send every byte.
fn echo_back_pressure_8mib_after_a_pause(model: &str) {
    let server = ServerProc::start(model, "echo", &[]);
    echo_concurrently(&server, pattern(8 << 20, 2), Duration::from_secs(1));
}

fn echo_100_concurrent_clients(model: &str) {
    let server = ServerProc::start(model, "echo", &[]);
    let clients: Vec<_> = (0..100u64)
        .map(|id| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut stream = crate::util::connect(addr);
                for round in 0..10 {
                    let message = pattern(100, id * 1000 + round);
                    stream.write_all(&message).unwrap();
                    let mut reply = vec![0u8; message.len()];
                    stream.read_exact(&mut reply).unwrap();
                    assert_eq!(reply, message, "client {id} round {round}");
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("every client gets every echo");
    }
}

/// Clients that reset their connection with data in flight cost only themselves.
fn echo_survives_resets(model: &str) {
    let server = ServerProc::start(model, "echo", &[]);
    for i in 0..20 {
        let stream = server.connect();
        (&stream).write_all(&pattern(256 * 1024, i)).ok();
        // SO_LINGER 0: close(2) sends RST instead of FIN.
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(stream);
    }
    echo_concurrently(&server, pattern(64 * 1024, 99), Duration::ZERO);
}
