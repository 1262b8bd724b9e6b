//! The memory that buffered answers may hold at once, across all requests. A cap per answer
//! bounds one request; this bounds them all together, so that many large listings (or a backend
//! that answers every request with too much) cannot take the gateway's memory. Small answers
//! (up to `FREE`: copy and Complete results, error documents) never touch it.

use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What an answer may hold without a lease.
pub const FREE: usize = crate::model::RESULT_CAP;

pub struct Budget {
    limit: usize,
    used: AtomicUsize,
}

impl Budget {
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes held now.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// Bytes taken from the budget, given back when dropped.
pub struct Lease {
    budget: Arc<Budget>,
    held: usize,
}

impl Lease {
    pub fn new(budget: &Arc<Budget>) -> Lease {
        Lease {
            budget: budget.clone(),
            held: 0,
        }
    }

    /// Hold `total` bytes in all; `false` (nothing more taken) when the budget has not the room.
    pub fn grow_to(&mut self, total: usize) -> bool {
        let more = total.saturating_sub(self.held);
        if more == 0 {
            return true;
        }
        let b = &self.budget;
        let taken = b
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + more <= b.limit).then_some(used + more)
            });
        if taken.is_err() {
            return false;
        }
        self.held += more;
        true
    }

    /// `data`, holding `lease` (if any) until its last clone is dropped.
    pub fn attach_to(lease: Option<Lease>, data: Bytes) -> Bytes {
        match lease {
            Some(lease) if lease.held > 0 => Bytes::from_owner(Held {
                data,
                _lease: lease,
            }),
            _ => data,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.held, Ordering::AcqRel);
    }
}

struct Held {
    data: Bytes,
    _lease: Lease,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_takes_what_fits_and_gives_it_back_with_the_last_clone() {
        let b = Budget::new(100);
        let mut one = Lease::new(&b);
        assert!(one.grow_to(60));
        let mut two = Lease::new(&b);
        assert!(!two.grow_to(50), "60 + 50 is over 100");
        assert!(two.grow_to(40));
        assert_eq!(b.used(), 100);
        drop(two);
        assert_eq!(b.used(), 60);
        let data = Lease::attach_to(Some(one), Bytes::from(vec![7u8; 60]));
        let copy = data.clone();
        drop(data);
        assert_eq!(b.used(), 60, "a clone still holds it");
        assert_eq!(&copy[..3], &[7, 7, 7]);
        drop(copy);
        assert_eq!(b.used(), 0);
    }
}
