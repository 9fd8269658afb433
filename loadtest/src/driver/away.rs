//! Leaving and coming back ([`Churn`]).
//!
//! A **resume** drops the socket without `leave` and leaves both media connections running
//! (the loop goes on driving them, as a page's peer connections outlive its WebSocket); after
//! the pause a new socket sends `resume`, and `joined` with `resumed` ends it. On
//! `resume_failed` the bot sends `join` with its session on the same socket and, admitted as a
//! new participant, starts new media connections. A **rejoin** sends `leave`, closes both
//! connections, waits out the pause still answering commands, and joins anew.
//!
//! What happened when goes into [`BotStats::churns`](crate::BotStats::churns) and
//! [`BotStats::presences`](crate::BotStats::presences).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::join::Admitted;
use super::{Bot, Flow, LEAVE_WAIT};
use crate::bot::{BotError, Churn, Command};
use crate::signaling::{SignalEvent, Signaling};
use crate::stats::ChurnRecord;
use crate::target::Target;

/// A new socket being opened, with `resume` sent on it once open.
type Connecting = Pin<Box<dyn Future<Output = Result<Signaling, BotError>> + Send>>;

/// A bot between dropping its socket for a resume and `joined` on the new one.
pub(super) struct Away {
    stage: Stage,
    /// Once reconnecting: the bot gives up (ends with a join timeout) if not joined by then.
    deadline: Option<Instant>,
}

enum Stage {
    /// No socket until then.
    Paused { until: Instant },
    /// The new socket is opening.
    Connecting(Connecting),
    /// `resume` sent; waiting for `joined`.
    Resuming,
    /// The server said `resume_failed`; `join` sent, waiting for `joined`.
    Joining,
}

impl Away {
    /// When the loop must wake for this: the end of the pause, or the deadline.
    pub fn next_due(&self) -> Option<Instant> {
        match self.stage {
            Stage::Paused { until } => Some(until),
            _ => self.deadline,
        }
    }
}

/// The new socket, once the connect in flight finishes; never, while none is.
pub(super) async fn reconnected(away: &mut Option<Away>) -> Result<Signaling, BotError> {
    match away.as_mut().map(|a| &mut a.stage) {
        Some(Stage::Connecting(connecting)) => connecting.await,
        _ => std::future::pending().await,
    }
}

impl Bot {
    /// Whether the bot can leave and come back now: joined on Aula, not away already, and,
    /// for a resume, holding a token.
    pub(super) fn may_churn(&self, how: Churn) -> bool {
        let joined = self.signal.is_some() && self.stats.id.is_some();
        let can_resume = how == Churn::Rejoin || self.resume_token.is_some();
        joined && self.away.is_none() && self.config.target == Target::Aula && can_resume
    }

    /// Starts a resume: the socket closes without `leave`, as when the network drops, and a
    /// new one connects after `pause`.
    pub(super) fn drop_socket(&mut self, now: Instant, pause: Duration) {
        let at = self.elapsed();
        self.stats.churns.push(ChurnRecord::new(Churn::Resume, at));
        self.signal = None;
        self.away = Some(Away {
            stage: Stage::Paused { until: now + pause },
            deadline: None,
        });
    }

    /// Opens the new socket once the pause is over; ends the bot once the deadline passed.
    pub(super) fn handle_away_timer(&mut self, now: Instant) -> Result<(), BotError> {
        let Some(away) = &mut self.away else {
            return Ok(());
        };
        if away.deadline.is_some_and(|d| now >= d) {
            return Err(BotError::JoinTimeout(self.config.join_timeout));
        }
        let Stage::Paused { until } = away.stage else {
            return Ok(());
        };
        if now < until {
            return Ok(());
        }
        let (config, token) = (self.config.clone(), self.resume_token.clone());
        let token = token.expect("a resume starts only with a token");
        away.stage =
            Stage::Connecting(Box::pin(
                async move { Signaling::resume(&config, &token).await },
            ));
        away.deadline = Some(now + self.config.join_timeout);
        let at = self.elapsed();
        if let Some(c) = self.stats.churn_mut() {
            c.reconnecting = Some(at);
        }
        Ok(())
    }

    /// The new socket is open and `resume` sent on it.
    pub(super) fn handle_reconnected(&mut self, signal: Signaling) {
        self.signal = Some(signal);
        if let Some(away) = &mut self.away {
            away.stage = Stage::Resuming;
        }
    }

    /// A message on the new socket before `joined`.
    pub(super) async fn handle_resume_answer(
        &mut self,
        event: SignalEvent,
    ) -> Result<(), BotError> {
        match event {
            SignalEvent::Joined {
                you,
                participants,
                session,
                resume,
                resumed,
            } => {
                let joined = Admitted {
                    you,
                    participants,
                    session,
                    resume,
                };
                let same = self.stats.id.as_deref() == Some(joined.you.id.as_str());
                if resumed {
                    self.handle_resumed(joined).await
                } else if same {
                    // Our seat, its media lost while we were away: new connections on it.
                    self.away = None;
                    let at = self.elapsed();
                    self.stats.handle_back(at);
                    self.restart_media(joined).await
                } else {
                    self.handle_joined_anew(joined).await
                }
            }
            SignalEvent::Refused { code, .. } if code == "resume_failed" => {
                if let Some(away) = &mut self.away {
                    away.stage = Stage::Joining;
                }
                self.config.session = self.stats.session.clone();
                let config = self.config.clone();
                self.signal()?.join(&config).await
            }
            SignalEvent::Closed(why) => Err(self.closed(why)),
            other => {
                self.handle_news(other);
                Ok(())
            }
        }
    }

    /// `joined` with `resumed`: the same participant on the same media connections. A publish
    /// offer whose answer the old socket may have lost goes out again, as the protocol asks.
    async fn handle_resumed(&mut self, joined: Admitted) -> Result<(), BotError> {
        self.away = None;
        self.handle_admitted(joined);
        let at = self.elapsed();
        self.stats.handle_back(at);
        if let Some((sdp, tracks)) = self.unanswered_publish.clone() {
            let candidate = self.publish.candidate()?.to_sdp_string();
            self.signal()?.publish(sdp, tracks, candidate).await?;
        }
        if self.config.publishes() {
            self.send_media_state().await?;
        }
        Ok(())
    }

    /// `joined` after `resume_failed`: a new participant, so new media connections.
    async fn handle_joined_anew(&mut self, joined: Admitted) -> Result<(), BotError> {
        self.away = None;
        if let Some(c) = self.stats.churn_mut() {
            c.fell_back = true;
        }
        let started = self.stats.churning().map(|c| c.started);
        self.stats
            .end_presence(started.unwrap_or_else(|| self.elapsed()));
        self.new_connections().await?;
        self.handle_admitted(joined);
        self.start_media().await
    }

    /// A rejoin: `leave`, new connections, the pause, `join` with the session. False if the
    /// bot was told to leave meanwhile.
    pub(super) async fn rejoin(
        &mut self,
        pause: Duration,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Result<bool, BotError> {
        let at = self.elapsed();
        self.stats.churns.push(ChurnRecord::new(Churn::Rejoin, at));
        if let Some(mut signal) = self.signal.take() {
            signal.leave(LEAVE_WAIT).await;
        }
        self.stats.end_presence(at);
        self.new_connections().await?;
        if !self.pause(pause, commands).await {
            return Ok(false);
        }
        let at = self.elapsed();
        if let Some(c) = self.stats.churn_mut() {
            c.reconnecting = Some(at);
        }
        self.config.session = self.stats.session.clone();
        if !self.join_or_leave(commands).await? {
            return Ok(false);
        }
        self.start_media().await?;
        Ok(true)
    }

    /// Waits `pause` while answering commands; false if told to leave meanwhile.
    async fn pause(&mut self, pause: Duration, commands: &mut mpsc::Receiver<Command>) -> bool {
        let end = tokio::time::sleep(pause);
        tokio::pin!(end);
        loop {
            let cmd = tokio::select! {
                () = &mut end => return true,
                cmd = commands.recv() => cmd,
            };
            if let Flow::Leave = self.handle_command(cmd, false).await {
                return false;
            }
        }
    }
}
