//! The queue from a room task and the SFU to one socket's writer task. Bounded, because a
//! client that stops reading must not grow the server's memory without end: when the queue is
//! full, the message is dropped, the outbox is marked overflowed, and the session drops the
//! socket (a client that cannot keep up with its room has lost the thread anyway).

use std::sync::Arc;

use tokio::sync::{Notify, mpsc};

use crate::protocol::ServerMsg;

/// Messages queued for one socket. A class's busiest moment, a teacher admitting 50 students
/// at once, queues about 150 messages for each host; 1024 leaves room for that many times
/// over, and caps a stuck socket at about a megabyte of small messages.
pub const CAPACITY: usize = 1024;

/// What a socket's writer task sends: a message, a ping, or a close frame and the end.
// Nearly every item is a `Msg`; boxing it would add an allocation per message to save space
// only on the one `Close` a socket ever sends.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Outgoing {
    Msg(ServerMsg),
    /// A WebSocket ping: the session's check that the other end is still there.
    Ping,
    Close(u16, &'static str),
}

/// The sending side; cheap to clone (the room task, the SFU's event sink and the session
/// each hold one).
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outgoing>,
    overflow: Arc<Notify>,
}

/// The writer task is gone: the socket has closed.
#[derive(Debug)]
pub struct Closed;

impl Outbox {
    pub fn channel() -> (Outbox, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let overflow = Arc::new(Notify::new());
        (Outbox { tx, overflow }, rx)
    }

    /// Queues without waiting; a full queue drops `item` and marks the outbox overflowed.
    pub fn send(&self, item: Outgoing) -> Result<(), Closed> {
        match self.tx.try_send(item) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.notify_one();
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Closed),
        }
    }

    /// Resolves once the writer task has ended.
    pub async fn closed(&self) {
        self.tx.closed().await
    }

    /// Resolves once a message had to be dropped because the queue was full.
    pub async fn overflowed(&self) {
        self.overflow.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_full_queue_drops_and_marks_the_overflow() {
        let (out, mut rx) = Outbox::channel();
        for _ in 0..CAPACITY {
            out.send(Outgoing::Ping).unwrap();
        }
        let not_yet = tokio::time::timeout(Duration::from_millis(20), out.overflowed()).await;
        assert!(not_yet.is_err(), "a full queue is not an overflow yet");
        out.send(Outgoing::Ping).expect("dropped, not an error");
        tokio::time::timeout(Duration::from_secs(1), out.overflowed())
            .await
            .expect("the overflow is noticed");
        let mut queued = 0;
        while rx.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, CAPACITY);
        drop(rx);
        assert!(out.send(Outgoing::Ping).is_err());
    }
}
