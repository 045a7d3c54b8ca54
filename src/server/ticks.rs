//! What a room's marks make of each sender's ticks: pure arithmetic over
//! every member's (delivered, read), sorted once, so that the ticks of any
//! sender cost a few binary searches however many members the room has.
//! No I/O here: `receipts` reads the marks and sends what changed.

use std::collections::HashMap;

use crate::model::UserId;
use crate::protocol::{ReadCount, Seq, Ticks};

/// The most messages of one sender whose read counts a `Ticks` carries.
pub const COUNTS_MAX: usize = 20;

/// A room's members' marks.
pub struct Standing {
    marks: HashMap<UserId, (Seq, Seq)>,
    delivered: Vec<Seq>,
    read: Vec<Seq>,
}

impl Standing {
    pub fn new(rows: impl IntoIterator<Item = (UserId, Seq, Seq)>) -> Self {
        let marks: HashMap<UserId, (Seq, Seq)> = rows.into_iter().map(|(u, d, r)| (u, (d, r))).collect();
        let mut delivered: Vec<Seq> = marks.values().map(|m| m.0).collect();
        let mut read: Vec<Seq> = marks.values().map(|m| m.1).collect();
        delivered.sort_unstable();
        read.sort_unstable();
        Self {
            marks,
            delivered,
            read,
        }
    }

    /// The members, in no order.
    pub fn members(&self) -> impl Iterator<Item = UserId> + '_ {
        self.marks.keys().copied()
    }

    /// The ticks of `sender`, whose messages (seqs, oldest first) are
    /// `mine`: counts for the newest `COUNTS_MAX` of them not read by all.
    pub fn ticks_of(&self, sender: UserId, mine: &[Seq]) -> Ticks {
        let own = self.marks.get(&sender).copied();
        let of = self.marks.len() - usize::from(own.is_some());
        let delivered = least_but(&self.delivered, own.map(|m| m.0));
        let read = least_but(&self.read, own.map(|m| m.1));
        let mut counts: Vec<ReadCount> = mine
            .iter()
            .rev()
            .filter(|&&seq| seq > read)
            .take(COUNTS_MAX)
            .map(|&seq| ReadCount {
                seq,
                read: self.read_count(seq, own.map(|m| m.1)),
            })
            .collect();
        counts.reverse();
        Ticks {
            delivered,
            read,
            of: u32::try_from(of).unwrap_or(u32::MAX),
            counts,
        }
    }

    /// How many members other than the one whose read mark is `own` have
    /// read `seq`.
    fn read_count(&self, seq: Seq, own: Option<Seq>) -> u32 {
        let at_least = self.read.len() - self.read.partition_point(|&r| r < seq);
        let mine = usize::from(own.is_some_and(|r| r >= seq));
        u32::try_from(at_least - mine).unwrap_or(u32::MAX)
    }
}

/// The least of sorted `marks` once one occurrence of `own` is left out
/// (0 when nothing is left).
fn least_but(marks: &[Seq], own: Option<Seq>) -> Seq {
    match (marks, own) {
        ([first, second, ..], Some(own)) if *first == own => *second,
        ([_], Some(_)) | ([], _) => 0,
        ([first, ..], _) => *first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_senders_ticks_leave_out_their_own_marks() {
        // 1 sent 3 and 6; 2 and 3 have read 4 and 6; 4 holds 9, read 2.
        let s = Standing::new([(1, 1, 1), (2, 6, 4), (3, 9, 6), (4, 9, 2)]);
        let t = s.ticks_of(1, &[3, 6]);
        assert_eq!((t.delivered, t.read, t.of), (6, 2, 3));
        assert_eq!(
            t.counts,
            vec![ReadCount { seq: 3, read: 2 }, ReadCount { seq: 6, read: 1 }]
        );
        // 4's own low read mark does not hold back 4's ticks.
        let t = s.ticks_of(4, &[5]);
        assert_eq!((t.delivered, t.read, t.of), (1, 1, 3));
        assert_eq!(t.counts, vec![ReadCount { seq: 5, read: 1 }]);
    }

    #[test]
    fn counts_stop_at_what_all_read_and_at_the_newest_few() {
        let s = Standing::new([(1, 50, 50), (2, 50, 10)]);
        let mine: Vec<Seq> = (1..=40).collect();
        let t = s.ticks_of(1, &mine);
        assert_eq!(t.read, 10);
        assert_eq!(t.counts.len(), COUNTS_MAX);
        assert_eq!(t.counts[0].seq, 21, "the newest ones");
        assert!(t.counts.iter().all(|c| c.read == 0));
    }

    #[test]
    fn alone_or_not_a_member_still_answers() {
        let alone = Standing::new([(1, 5, 5)]);
        assert_eq!(alone.ticks_of(1, &[5]).of, 0);
        assert_eq!(alone.ticks_of(1, &[5]).read, 0);
        let t = alone.ticks_of(9, &[]);
        assert_eq!((t.delivered, t.read, t.of), (5, 5, 1));
        let empty = Standing::new([]);
        assert_eq!(empty.ticks_of(1, &[1]).of, 0);
    }
}
