//! What a room's marks make of each sender's ticks: pure arithmetic over
//! a summary of the marks (`MarkSummary`: the two lowest of each kind, and
//! how many members read how far), so that the ticks of any sender cost a
//! few lookups however many members the room has, and storage never reads
//! every member's row for them. No I/O here: `receipts` reads the summary
//! and sends what changed.

use std::collections::HashMap;

use super::storage::MarkSummary;
use crate::model::UserId;
use crate::protocol::{ReadCount, Seq, Ticks};

/// The most messages of one sender whose read counts a `Ticks` carries.
pub const COUNTS_MAX: usize = 20;

/// A room's marks, as ticks need them.
pub struct Standing {
    members: usize,
    lowest_delivered: Vec<(UserId, Seq)>,
    lowest_read: Vec<(UserId, Seq)>,
    /// (read mark, how many members read at least that far), ascending.
    read_at_least: Vec<(Seq, usize)>,
    own: HashMap<UserId, (Seq, Seq)>,
}

impl Standing {
    /// From every member's (user, delivered, read).
    pub fn new(rows: impl IntoIterator<Item = (UserId, Seq, Seq)>) -> Self {
        let own: Vec<(UserId, Seq, Seq)> = rows.into_iter().collect();
        let lowest = |key: fn(&(UserId, Seq, Seq)) -> Seq| {
            let mut v: Vec<(UserId, Seq)> = own.iter().map(|r| (r.0, key(r))).collect();
            v.sort_by_key(|m| m.1);
            v.truncate(2);
            v
        };
        let mut reads: Vec<(Seq, i64)> = Vec::new();
        let mut marks: Vec<Seq> = own.iter().map(|r| r.2).collect();
        marks.sort_unstable();
        for r in marks {
            match reads.last_mut() {
                Some((m, n)) if *m == r => *n += 1,
                _ => reads.push((r, 1)),
            }
        }
        Self::summed(MarkSummary {
            members: own.len() as i64,
            lowest_delivered: lowest(|r| r.1),
            lowest_read: lowest(|r| r.2),
            reads,
            own,
        })
    }

    /// From storage's summary: counts are right for seqs past the lowest
    /// read mark that are at or after the `from` the summary was read with.
    pub fn summed(s: MarkSummary) -> Self {
        let mut read_at_least: Vec<(Seq, usize)> = Vec::with_capacity(s.reads.len());
        let mut total = 0usize;
        for &(mark, n) in s.reads.iter().rev() {
            total += usize::try_from(n).unwrap_or(0);
            read_at_least.push((mark, total));
        }
        read_at_least.reverse();
        Self {
            members: usize::try_from(s.members).unwrap_or(0),
            lowest_delivered: s.lowest_delivered,
            lowest_read: s.lowest_read,
            read_at_least,
            own: s.own.into_iter().map(|(u, d, r)| (u, (d, r))).collect(),
        }
    }

    /// The members whose own marks are known, in no order.
    pub fn members(&self) -> impl Iterator<Item = UserId> + '_ {
        self.own.keys().copied()
    }

    /// The ticks of `sender`, whose messages (seqs, oldest first) are
    /// `mine`: counts for the newest `COUNTS_MAX` of them not read by all.
    pub fn ticks_of(&self, sender: UserId, mine: &[Seq]) -> Ticks {
        let own = self.own.get(&sender).copied();
        let of = self.members.saturating_sub(usize::from(own.is_some()));
        let delivered = least_but(&self.lowest_delivered, sender);
        let read = least_but(&self.lowest_read, sender);
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
        let at = self.read_at_least.partition_point(|&(mark, _)| mark < seq);
        let at_least = self.read_at_least.get(at).map_or(0, |&(_, n)| n);
        let mine = usize::from(own.is_some_and(|r| r >= seq));
        u32::try_from(at_least.saturating_sub(mine)).unwrap_or(u32::MAX)
    }
}

/// The lowest mark of someone other than `sender`, from the two lowest
/// (0 when there is nobody else).
fn least_but(lowest: &[(UserId, Seq)], sender: UserId) -> Seq {
    lowest
        .iter()
        .find(|(user, _)| *user != sender)
        .map_or(0, |&(_, mark)| mark)
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
