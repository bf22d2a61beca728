//! poolsleuth: tells a Windows administrator which driver is leaking kernel pool memory, who
//! makes it, and what to do about it.
//!
//! Domain modules (`tag`, `pooltag_list`, `knowledge`, `vendor`, `index`, `import`, `export`) know nothing
//! about HTTP; `http` is the thin edge and `cli` the command line.

pub mod alerts;
pub mod attribution;
pub mod catalogs;
pub mod causes;
pub mod cli;
pub mod collect;
pub mod disk;
pub mod driver;
pub mod driver_upload;
pub mod excerpt;
pub mod export;
pub mod fleet;
pub mod format;
pub mod http;
pub mod import;
pub mod index;
pub mod ingest_client;
pub mod knowledge;
pub mod leading_phrase;
pub mod list_refresh;
pub mod pool_tag_info;
pub mod pooltag_list;
pub mod snapshot;
pub mod synthetic_fleet;
pub mod tag;
pub mod unknown_tag;
pub mod utf16;
pub mod vendor;
pub mod version;
