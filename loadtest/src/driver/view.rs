//! The bot's page layout: which remote cameras it shows and how large, by its
//! [`ViewPolicy`], told to the server whenever it changes (`view`; for Janus, each camera's
//! substream), at most [`VIEW_INTERVAL`] apart as the page does, and noted per remote in the
//! stats so the report can say what each tile received.

use std::time::{Duration, Instant};

use str0m::media::MediaKind;

use super::Bot;
use crate::bot::BotError;
use crate::gaps::StreamKind;
use crate::protocol::HOST;
use crate::view::{Candidate, Tile};

/// A page sends `view` at most 5 times a second (docs/protocol.md); so does a bot.
const VIEW_INTERVAL: Duration = Duration::from_millis(200);

/// Each camera the page could show, by participant id in the order they appeared, and its
/// tile (`None`: not shown).
pub(crate) type Layout = Vec<(String, Option<Tile>)>;

/// What the bot last told and whether that may be out of date.
#[derive(Debug, Default)]
pub(super) struct ViewState {
    /// The layout last told; `None` before the first (or since the bot became someone new).
    told: Option<Layout>,
    /// When it was told.
    told_at: Option<Instant>,
    /// Something the layout depends on changed since.
    dirty: bool,
}

impl Bot {
    /// The cameras, their roles or the policy changed: the layout is worked out again at the
    /// next chance.
    pub(super) fn handle_view_change(&mut self) {
        self.view.dirty = true;
    }

    /// The server forgot this bot's view (it joined anew): tell it again.
    pub(super) fn reset_view(&mut self) {
        self.view = ViewState {
            dirty: true,
            ..ViewState::default()
        };
    }

    /// When the layout may be told next, if it is to be.
    pub(super) fn view_due(&self) -> Option<Instant> {
        let tell = self.config.view.sends() && self.view.dirty && self.signal.is_some();
        let earliest = self.view.told_at.map_or(self.start, |t| t + VIEW_INTERVAL);
        (tell && self.away.is_none()).then_some(earliest)
    }

    /// Tells the layout if it is due and differs from the one told last.
    pub(super) async fn tell_view(&mut self, now: Instant) -> Result<(), BotError> {
        if self.view_due().is_none_or(|t| t > now) {
            return Ok(());
        }
        self.view.dirty = false;
        let layout = self.layout();
        if self.view.told.as_ref() == Some(&layout) {
            return Ok(());
        }
        self.signal()?.view(&layout).await?;
        self.stats.views_sent += 1;
        self.view.told_at = Some(now);
        self.note_layout(&layout);
        self.view.told = Some(layout);
        Ok(())
    }

    /// The layout the policy makes of the cameras mapped now (of participants still there).
    fn layout(&self) -> Layout {
        let mut shown: Vec<usize> = self
            .down_tracks
            .iter()
            .filter(|t| t.kind == MediaKind::Video)
            .map(|t| t.remote)
            .filter(|&i| self.stats.remotes[i].left.is_none())
            .collect();
        shown.sort_unstable();
        shown.dedup();
        let candidates: Vec<Candidate> = shown
            .iter()
            .map(|&i| {
                let r = &self.stats.remotes[i];
                let host = r.participant.as_ref().is_some_and(|p| p.role == HOST);
                Candidate { id: &r.id, host }
            })
            .collect();
        let tiles = self.config.view.tiles(&candidates);
        candidates
            .iter()
            .zip(tiles)
            .map(|(c, tile)| (c.id.to_owned(), tile))
            .collect()
    }

    /// Puts the told layout into the stats: each remote's tile, and the hidden cameras' gap
    /// logs marked as silent by the page's choice.
    fn note_layout(&mut self, layout: &Layout) {
        let at = self.elapsed();
        let me = self.stats.id.clone().unwrap_or_default();
        for r in &mut self.stats.remotes {
            let tile = layout.iter().find(|(id, _)| *id == r.id).and_then(|t| t.1);
            r.handle_tile(tile, at);
        }
        for (id, tile) in layout {
            if tile.is_none() {
                let log = self.stats.gap_log_index(&me, id, StreamKind::Video);
                self.stats.gap_logs[log].hidden_by_view = true;
            }
        }
    }
}
