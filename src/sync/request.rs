//! A request the client keeps at most one of in flight at a time — a
//! room's `sync`, its `members`, its `history` page, the refreshing
//! `hello` — with its transitions. Which frame it is and when to send it
//! is the caller's; this only says whether to send now.

/// Where one request stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Request {
    #[default]
    Idle,
    /// Refused, or its answer lost: asked again at the next retry.
    Due,
    InFlight,
    /// In flight, and its answer may be stale (a `resync` came meanwhile,
    /// or it was asked again): another follows the answer.
    InFlightAgain,
}

impl Request {
    /// Asks for it: true when it is to be sent now (nothing was in flight;
    /// it is then); else the one in flight is followed by another.
    pub fn ask(&mut self) -> bool {
        match self {
            Request::Idle | Request::Due => {
                *self = Request::InFlight;
                true
            }
            Request::InFlight | Request::InFlightAgain => {
                *self = Request::InFlightAgain;
                false
            }
        }
    }

    /// Its answer came: true when another must follow (it was asked again
    /// meanwhile, or is due); the caller then asks.
    pub fn answered(&mut self) -> bool {
        let again = matches!(self, Request::InFlightAgain | Request::Due);
        *self = Request::Idle;
        again
    }

    /// It was refused (or its answer will not come): asked again at the
    /// next retry, if one was in flight.
    pub fn refused(&mut self) {
        if self.in_flight() {
            *self = Request::Due;
        }
    }

    /// Forgotten: the connection closed (everything is asked again after the
    /// next welcome), or the request is not worth retrying.
    pub fn reset(&mut self) {
        *self = Request::Idle;
    }

    pub fn in_flight(self) -> bool {
        matches!(self, Request::InFlight | Request::InFlightAgain)
    }

    /// To be asked at the next retry.
    pub fn is_due(self) -> bool {
        self == Request::Due
    }
}

#[cfg(test)]
mod tests {
    use super::Request::{self, *};

    #[test]
    fn one_in_flight_and_at_most_one_more_after_it() {
        let mut r = Request::default();
        assert!(r.ask());
        assert!(
            !r.ask() && !r.ask(),
            "asked twice more while in flight: one follows"
        );
        assert_eq!(r, InFlightAgain);
        assert!(r.answered());
        assert!(r.ask());
        assert!(!r.answered());
        assert_eq!(r, Idle);
    }

    #[test]
    fn a_refused_request_is_due_until_asked() {
        let mut r = Request::default();
        r.refused();
        assert_eq!(r, Idle, "nothing was in flight");
        r.ask();
        r.refused();
        assert!(r.is_due() && !r.in_flight());
        assert!(r.ask());
        r.reset();
        assert_eq!(r, Idle);
    }
}
