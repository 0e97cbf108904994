//! Neural networks on top of the tapegrad engine (filled by its own issue).
