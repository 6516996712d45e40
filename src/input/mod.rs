//! Input: files on disk to [`record::Record`]s.
//!
//! `decode` turns bytes into UTF-8 text, `detect` names the format and object kind from
//! content (never from file names), and one parser per format yields records.

pub mod adsi;
pub mod blob_filter;
pub mod clixml;
pub mod csv;
pub mod decode;
pub mod detect;
pub mod format_list;
pub mod format_table;
pub(crate) mod id_map;
pub mod ldif;
pub(crate) mod lines;
pub mod logs;
pub mod metabase;
pub mod outcome;
pub mod paste;
pub mod record;
pub(crate) mod ref_table;
pub mod reg;
pub mod rows;
pub mod settings;
pub mod text;
pub mod transcript;
pub mod utf16;
pub mod vocabulary;
pub mod xml_tokens;
