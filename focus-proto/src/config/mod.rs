//! `jicofo.conf`: HOCON parsing and the typed configuration with Jicofo's defaults.
