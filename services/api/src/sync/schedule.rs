//! TODO(helper A): periodic syncs.
