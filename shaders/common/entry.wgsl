// The entry point of the kernels with 1-D workgroups on a 2-D grid. Not a module on its own:
// the host (src/kernels/mod.rs, `WgslKernel`) appends it to such a kernel, which provides
//   fn run_workgroup(group: u32, lid: u32)   the work of workgroup `group`, thread `lid`
// (common/per_item.wgsl provides it for the kernels with one thread per item), and fills
// `{{ threads }}` with the kernel's workgroup size. Grids beyond 65,535 workgroups are laid
// out on x and y (src/kernels/mod.rs `spread`): `group` is wg.x + wg.y * num_workgroups.x,
// and the last row may overshoot the work, which the kernel checks.

const THREADS: u32 = {{ threads }}u;

@compute @workgroup_size({{ threads }}, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32
) {
    run_workgroup(wg.x + wg.y * nwg.x, lid);
}
