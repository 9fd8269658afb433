//! What a bot's page would show: which remote cameras get a tile and how large, in device
//! pixels, as the bot reports it with `view` (docs/protocol.md); and which simulcast layer a
//! tile of that size calls for, for servers the bot has to tell itself (Janus's `substream`)
//! and for the report.
//!
//! The layouts are the page's (web-client/static/layout.js): in a class a student's page puts
//! the teacher on the stage and the others in a strip of thumbnails, a page at a time, and the
//! teacher's page (like every page of a meeting) is a grid of everyone. The sizes are those of
//! a 1920×1080 screen at a device pixel ratio of 1, the common school laptop or projector.
//!
//! Pure: the caller gives the candidates in the order the page would place them.

use serde::Serialize;

/// A tile's size in device pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Tile {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
}

impl Tile {
    /// `1280x720`.
    pub fn label(&self) -> String {
        format!("{}x{}", self.width, self.height)
    }
}

/// The stage of a class page: the teacher's camera, large.
pub const LARGE: Tile = Tile {
    width: 1280,
    height: 720,
};
/// A thumbnail in the strip below the stage.
pub const THUMBNAIL: Tile = Tile {
    width: 320,
    height: 180,
};
/// The screen a grid fills.
pub const SCREEN: Tile = Tile {
    width: 1920,
    height: 1080,
};

/// How a bot lays out the cameras it receives, and so what its `view` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewPolicy {
    /// No `view` at all: the server's default, every video at its middle layer (a page before
    /// its first `view`, or a client that never sends one).
    #[default]
    None,
    /// A student's page in a class or lecture: a host's camera [`LARGE`] (the first remote if
    /// no host is there), the next `thumbnails` cameras in the order they appeared as
    /// [`THUMBNAIL`]s, the rest not shown (another page of the strip).
    Stage {
        /// Thumbnails the strip shows at once.
        thumbnails: usize,
    },
    /// Every camera the same size in a grid that fills [`SCREEN`]: a teacher's page in a class,
    /// every page in a meeting.
    Grid,
}

/// A remote camera a page could show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// Its participant id.
    pub id: &'a str,
    /// Whether it is a host's (the teacher's, in a class).
    pub host: bool,
}

impl ViewPolicy {
    /// Whether the bot sends `view` at all.
    pub fn sends(&self) -> bool {
        *self != ViewPolicy::None
    }

    /// The tile of each candidate, in their order: `None` for a camera not shown. Empty for
    /// [`ViewPolicy::None`], which shows nothing itself.
    pub fn tiles(&self, candidates: &[Candidate]) -> Vec<Option<Tile>> {
        match *self {
            ViewPolicy::None => Vec::new(),
            ViewPolicy::Stage { thumbnails } => stage(candidates, thumbnails),
            ViewPolicy::Grid => vec![Some(grid_tile(candidates.len())); candidates.len()],
        }
    }
}

fn stage(candidates: &[Candidate], thumbnails: usize) -> Vec<Option<Tile>> {
    let on_stage = candidates.iter().position(|c| c.host).or(Some(0));
    let mut strip = 0;
    let mut tiles = Vec::with_capacity(candidates.len());
    for i in 0..candidates.len() {
        if Some(i) == on_stage {
            tiles.push(Some(LARGE));
        } else {
            strip += 1;
            tiles.push((strip <= thumbnails).then_some(THUMBNAIL));
        }
    }
    tiles
}

/// The tile of a grid of `n` on [`SCREEN`]: as many columns as the square root rounds up to,
/// rows for the rest, each cell's 16:9 picture as large as fits.
pub fn grid_tile(n: usize) -> Tile {
    let n = n.max(1) as u32;
    let columns = n.isqrt() + u32::from(n.isqrt().pow(2) < n);
    let rows = n.div_ceil(columns);
    let (cell_w, cell_h) = (SCREEN.width / columns, SCREEN.height / rows);
    let width = cell_w.min(cell_h * 16 / 9);
    Tile {
        width,
        height: width * 9 / 16,
    }
}

/// The layer a tile `height` lines high calls for, among layers of `heights` (smallest
/// first): the smallest at least as high, else the largest. The SFU's rule
/// (sfu/src/participant.rs, `layer_for`); 0 when there are no heights.
pub fn layer_for(heights: &[u32], height: u32) -> usize {
    heights
        .iter()
        .position(|&h| h >= height)
        .unwrap_or(heights.len().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(hosts: &[bool]) -> Vec<Candidate<'static>> {
        const IDS: [&str; 6] = ["p1", "p2", "p3", "p4", "p5", "p6"];
        hosts
            .iter()
            .zip(IDS)
            .map(|(&host, id)| Candidate { id, host })
            .collect()
    }

    #[test]
    fn a_student_sees_the_teacher_large_and_a_strip_of_thumbnails() {
        let policy = ViewPolicy::Stage { thumbnails: 2 };
        let c = candidates(&[false, true, false, false, false]);
        let t = Some(THUMBNAIL);
        assert_eq!(policy.tiles(&c), [t, Some(LARGE), t, None, None]);
        let none = ViewPolicy::Stage { thumbnails: 0 };
        assert_eq!(none.tiles(&c), [None, Some(LARGE), None, None, None]);
        // Without a teacher, the first camera takes the stage, as on the page.
        let c = candidates(&[false, false, false]);
        assert_eq!(policy.tiles(&c), [Some(LARGE), t, t]);
        assert!(policy.tiles(&[]).is_empty());
    }

    #[test]
    fn a_grid_shrinks_with_the_count() {
        let size = |n| {
            let t = grid_tile(n);
            (t.width, t.height)
        };
        assert_eq!(size(1), (1920, 1080));
        assert_eq!(size(2), (960, 540));
        assert_eq!(size(4), (960, 540));
        // A meeting of 20: 5 × 4.
        assert_eq!(size(19), (384, 216));
        // A teacher's page of 29 students: 6 × 5.
        assert_eq!(size(29), (320, 180));
        assert_eq!(size(200), (128, 72));
        assert_eq!(size(0), (1920, 1080));
        let c = candidates(&[true, false, false]);
        assert_eq!(ViewPolicy::Grid.tiles(&c), [Some(grid_tile(3)); 3]);
        assert!(ViewPolicy::None.tiles(&c).is_empty());
        assert!(!ViewPolicy::None.sends() && ViewPolicy::Grid.sends());
    }

    #[test]
    fn a_tile_calls_for_the_smallest_layer_as_high() {
        let heights = [180, 360, 720];
        assert_eq!(layer_for(&heights, 180), 0);
        assert_eq!(layer_for(&heights, 72), 0);
        assert_eq!(layer_for(&heights, 216), 1);
        assert_eq!(layer_for(&heights, 540), 2);
        assert_eq!(layer_for(&heights, 1080), 2, "the largest there is");
        assert_eq!(layer_for(&[360], 720), 0);
        assert_eq!(layer_for(&[], 720), 0);
        assert_eq!(LARGE.label(), "1280x720");
    }
}
