// One thread per item, on common/entry.wgsl: the host (src/kernels/mod.rs `launch_items`)
// appends both to the kernel, whose uniform `info` starts with `items: u32`, the number of
// items, and which provides
//   fn run_item(i: u32)   the work of item i, called for every i < info.items
// Item i is thread i % THREADS of workgroup i / THREADS; the overshoot does nothing.

fn run_workgroup(group: u32, lid: u32) {
    let i = group * THREADS + lid;
    if (i < info.items) {
        run_item(i);
    }
}
