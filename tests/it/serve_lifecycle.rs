//! Starting and stopping: SIGTERM ends every model within a second, exit code 0, with
//! no process left behind, even while clients are connected.

use std::io::Write;
use std::time::Duration;

use crate::util::http::{get, read_responses};
use crate::util::{descendants, process_exists, ServerProc};

per_model!([sigterm_stops_within_a_second_leaving_no_process]);

fn sigterm_stops_within_a_second_leaving_no_process(model: &str) {
    let mut server = ServerProc::start(model, "http", &[]);
    // One client mid-conversation, one connected but silent.
    let mut busy = server.connect();
    busy.write_all(get("/").as_bytes()).unwrap();
    read_responses(&mut busy, &mut Vec::new(), &[false]);
    let _silent = server.connect();
    std::thread::sleep(Duration::from_millis(100));
    let family = descendants(server.pid());

    let (status, took) = server.terminate();
    assert!(status.success(), "{model}: exit status {status:?}");
    assert!(
        took <= Duration::from_secs(1),
        "{model}: took {took:?} to stop"
    );
    // Reaped children vanish from /proc; give the kernel a moment to tear them down.
    let left: Vec<u32> = (0..50)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(10));
            family
                .iter()
                .copied()
                .filter(|&pid| process_exists(pid))
                .collect::<Vec<_>>()
        })
        .find(Vec::is_empty)
        .unwrap_or_else(|| {
            family
                .iter()
                .copied()
                .filter(|&pid| process_exists(pid))
                .collect()
        });
    assert!(left.is_empty(), "{model}: processes left behind: {left:?}");
}
