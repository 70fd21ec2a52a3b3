//! TODO(helper A): the worker loop.
