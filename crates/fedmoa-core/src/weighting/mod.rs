//! Objective weighters (implementations of [`crate::ObjectiveWeighter`]).
