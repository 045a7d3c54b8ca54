//! The server build's twin of `upload.rs`: nothing is uploaded from here
//! (the events that call these only happen in a browser).

use leptos::web_sys;

use super::attach::Attaching;

pub fn guard_page() {}

pub fn from_paste(_ev: &web_sys::ClipboardEvent, _a: Attaching) -> bool {
    false
}

pub fn from_drop(_ev: &web_sys::DragEvent, _a: Attaching) -> bool {
    false
}

pub fn from_input(_ev: &web_sys::Event, _a: Attaching) {}

pub fn cancel(_a: Attaching, _key: u32) {}

pub fn retry(_a: Attaching, _key: u32) {}

pub fn clear(_a: Attaching) {}

pub async fn picture(_url: String, _chosen: Option<web_sys::Event>) -> Option<Result<String, String>> {
    Some(Err("Pictures are sent from the browser.".into()))
}
