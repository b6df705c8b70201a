//! HTTPS that phones accept: the certificates and the local certificate authority
//! ([`certificates`]), the authority's page for phones ([`ca_page`]), and QR codes of room links
//! ([`qr`]).

pub mod ca_page;
pub mod certificates;
pub mod qr;
