//! The queue from a room task and the SFU to one socket's writer task. Bounded in messages
//! and in bytes, because a client that stops reading must not grow the server's memory without
//! end: when either bound is reached, the message is dropped, the outbox is marked overflowed,
//! and the session drops the socket (a client that cannot keep up with its room has lost the
//! thread anyway). Messages are serialized when queued, so what the bound counts is what the
//! queue holds, and a broadcast is serialized once and shared by every socket it goes to.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{Notify, mpsc};

use crate::protocol::ServerMsg;

/// Messages queued for one socket. A class's busiest moment, a teacher admitting 50 students
/// at once, queues about 150 messages for each host; 1024 leaves room for that many times
/// over.
pub const CAPACITY: usize = 1024;
/// Bytes queued for one socket: a `joined` for a full room with its chat history (at most
/// [`crate::room::chat::HISTORY_BYTES`] of chat) is under 100 KiB, and a burst of 150 small
/// messages under 50 KiB. A socket that does not read costs the server at most this.
pub const CAPACITY_BYTES: usize = 512 * 1024;

/// What a room task, the SFU or the session queues for a socket.
// Nearly every item is a `Msg`; boxing it would add an allocation per message to save space
// only on the one `Close` a socket ever sends.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Outgoing {
    Msg(ServerMsg),
    /// A message serialized once for many sockets ([`serialize`]; a clone is a reference
    /// count).
    Text(Utf8Bytes),
    /// A WebSocket ping: the session's check that the other end is still there.
    Ping,
    Close(u16, &'static str),
}

/// `msg` as its socket sends it.
pub fn serialize(msg: &ServerMsg) -> Utf8Bytes {
    serde_json::to_string(msg)
        .expect("server messages serialize")
        .into()
}

/// What the writer task sends.
#[derive(Debug)]
pub enum Frame {
    Text(Utf8Bytes),
    Ping,
    Close(u16, &'static str),
}

/// The sending side; cheap to clone (the room task, the SFU's event sink and the session
/// each hold one).
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Frame>,
    queued: Arc<AtomicUsize>,
    overflow: Arc<Notify>,
}

/// The writer task's side: frames in order, each text's bytes released as it is taken.
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::Receiver<Frame>,
    queued: Arc<AtomicUsize>,
}

impl Inbox {
    pub async fn recv(&mut self) -> Option<Frame> {
        let frame = self.rx.recv().await?;
        if let Frame::Text(text) = &frame {
            self.queued.fetch_sub(text.len(), Ordering::Relaxed);
        }
        Some(frame)
    }
}

/// The writer task is gone: the socket has closed.
#[derive(Debug)]
pub struct Closed;

impl Outbox {
    pub fn channel() -> (Outbox, Inbox) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let queued = Arc::new(AtomicUsize::new(0));
        let overflow = Arc::new(Notify::new());
        let inbox = Inbox {
            rx,
            queued: queued.clone(),
        };
        (
            Outbox {
                tx,
                queued,
                overflow,
            },
            inbox,
        )
    }

    /// Queues without waiting; a full queue drops `item` and marks the outbox overflowed.
    pub fn send(&self, item: Outgoing) -> Result<(), Closed> {
        let frame = match item {
            Outgoing::Msg(msg) => Frame::Text(serialize(&msg)),
            Outgoing::Text(text) => Frame::Text(text),
            Outgoing::Ping => Frame::Ping,
            // Counted where it is written (ws.rs, `write_loop`): only a socket's first close
            // goes out, and every session queues a goodbye after whatever closed it.
            Outgoing::Close(code, why) => Frame::Close(code, why),
        };
        let len = match &frame {
            Frame::Text(text) => text.len(),
            _ => 0,
        };
        // Counted before it is queued, so the writer never releases more than was added.
        let before = self.queued.fetch_add(len, Ordering::Relaxed);
        if len > 0 && before + len > CAPACITY_BYTES {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            if self.tx.is_closed() {
                return Err(Closed);
            }
            self.overflow.notify_one();
            return Ok(());
        }
        match self.tx.try_send(frame) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.queued.fetch_sub(len, Ordering::Relaxed);
                match e {
                    mpsc::error::TrySendError::Full(_) => {
                        self.overflow.notify_one();
                        Ok(())
                    }
                    mpsc::error::TrySendError::Closed(_) => Err(Closed),
                }
            }
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

    async fn overflows(out: &Outbox) -> bool {
        tokio::time::timeout(Duration::from_millis(20), out.overflowed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_marks_the_overflow() {
        let (out, mut inbox) = Outbox::channel();
        for _ in 0..CAPACITY {
            out.send(Outgoing::Ping).unwrap();
        }
        assert!(
            !overflows(&out).await,
            "a full queue is not an overflow yet"
        );
        out.send(Outgoing::Ping).expect("dropped, not an error");
        assert!(overflows(&out).await, "the overflow is noticed");
        let mut queued = 0;
        while inbox.rx.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, CAPACITY);
        drop(inbox);
        assert!(out.send(Outgoing::Ping).is_err());
    }

    #[tokio::test]
    async fn the_queue_is_bounded_in_bytes_and_releases_what_is_sent() {
        let (out, mut inbox) = Outbox::channel();
        let big = Utf8Bytes::from("x".repeat(100 * 1024));
        for _ in 0..5 {
            out.send(Outgoing::Text(big.clone())).unwrap();
        }
        assert!(!overflows(&out).await, "500 KiB fit");
        out.send(Outgoing::Text(big.clone())).unwrap();
        assert!(overflows(&out).await, "600 KiB do not");
        // A small message still fits: the bound is on bytes, the big one was dropped.
        out.send(Outgoing::Msg(ServerMsg::Pong)).unwrap();
        assert!(!overflows(&out).await);
        // What the writer takes is released.
        let Some(Frame::Text(first)) = inbox.recv().await else {
            panic!("a text first")
        };
        assert_eq!(first.len(), big.len());
        out.send(Outgoing::Text(big.clone())).unwrap();
        assert!(!overflows(&out).await, "room again after one was sent");
        let mut texts = 0;
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(20), inbox.recv()).await
        {
            texts += 1;
        }
        assert_eq!(texts, 6, "4 big, the pong, and the last big");
        assert_eq!(
            out.queued.load(Ordering::Relaxed),
            0,
            "nothing counted twice"
        );
    }
}
