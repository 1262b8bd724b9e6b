//! The do-nothing pingora proxy of `null_proxy.rs` with dialect-proxy's allocator (mimalloc), so
//! that the per-request comparison can also be read with the allocator set aside.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "null_proxy.rs"]
mod null;

fn main() {
    null::main()
}
