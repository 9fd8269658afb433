//! `view`: the sizes a page shows the others' videos at (docs/protocol.md), and its limit.

use crate::common;

use common::client::{Client, create, of_type, server};
use serde_json::json;

/// A page that floods `view` (a resize loop, a hostile script) is held to 10 a second: the
/// rest are refused and counted, and the socket stays usable.
#[tokio::test]
async fn a_flood_of_view_updates_is_rate_limited_and_counted() {
    let (server, addr) = server().await;
    let room = create(addr, json!({"kind": "meeting"})).await;
    let (mut host, _) = Client::join(addr, &room.id, &room.host_secret, "Herr Roth").await;
    let (mut li, _) = Client::join(addr, &room.id, &room.participant_secret, "Frau Li").await;
    let before = common::metric(server.http_addr, "aula_views_rate_limited_total").await;
    let started = std::time::Instant::now();
    let mut refused = 0;
    for i in 0..40u32 {
        let tile = json!({"participant": "p0", "source": "camera", "width": 16 * i + 1, "height": 9 * i + 1});
        let seen = li.roundtrip(json!({"type": "view", "tiles": [tile]})).await;
        refused += of_type(&seen, "error")
            .iter()
            .filter(|e| e["code"] == "rate_limited")
            .count();
    }
    let seconds = started.elapsed().as_secs_f64().ceil() as usize;
    assert!(
        40 - refused <= 10 * (seconds + 1),
        "{refused} of 40 refused in {seconds} s"
    );
    assert!(refused >= 1);
    let after = common::metric(server.http_addr, "aula_views_rate_limited_total").await;
    assert_eq!(after - before, refused as u64);
    li.send(json!({"type": "chat", "text": "noch da"})).await;
    assert_eq!(host.expect("chat").await["message"]["text"], "noch da");
}
