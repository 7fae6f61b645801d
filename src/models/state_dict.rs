//! Export in the official layout: a network's tensors under their official names, in the
//! order the [`Builder`](super::Builder) created them, as values or as a `.safetensors`
//! file that PyTorch's `load_state_dict` takes as it is.

use burn::module::{Module, Param};
use burn::tensor::Tensor;

/// Collects a module's float tensors (parameters and running statistics) in visit order,
/// flattened, with their shapes.
struct Collect(Vec<(Vec<usize>, Tensor<1>)>);

impl burn::module::ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let shape = t.dims().to_vec();
        let n: usize = shape.iter().product();
        self.0.push((shape, t.reshape([n])));
    }
}

/// A network's tensors under their official names, as f32 values (read asynchronously, so
/// this works on WebGPU). `layout` is the [`Builder::layout`](super::Builder::layout) the
/// network was built with.
pub async fn export<M: Module>(module: &M, layout: &[(String, Vec<usize>)]) -> Result<Vec<(String, Vec<usize>, Vec<f32>)>, String> {
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    if collect.0.len() != layout.len() {
        return Err(format!("the network has {} tensors, its layout {}", collect.0.len(), layout.len()));
    }
    let mut out = Vec::with_capacity(layout.len());
    for ((name, want), (shape, t)) in layout.iter().zip(collect.0) {
        if *want != shape {
            return Err(format!("`{name}`: the network's tensor is {shape:?}, the layout says {want:?}"));
        }
        let data = t.without_autodiff().into_data_async().await.map_err(|e| format!("reading `{name}` failed: {e:?}"))?;
        let values = data.try_into_vec::<f32>().map_err(|e| format!("reading `{name}` failed: {e:?}"))?;
        out.push((name.clone(), shape, values));
    }
    Ok(out)
}

/// [`export`] as `.safetensors` bytes (f32, official key names: loads in PyTorch with
/// `load_state_dict(safetensors.torch.load_file(path))`, and back here).
pub async fn export_safetensors<M: Module>(module: &M, layout: &[(String, Vec<usize>)], prefix: &str) -> Result<Vec<u8>, String> {
    let tensors = export(module, layout).await?;
    let mut bytes: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, shape, values) in tensors {
        // PyTorch's BatchNorm2d also keeps an integer step counter; `load_state_dict` (strict)
        // wants it. Its value only matters with momentum=None, which junyanz never uses.
        if let Some(layer) = name.strip_suffix(".running_var") {
            bytes.push((format!("{prefix}{layer}.num_batches_tracked"), safetensors::Dtype::I64, vec![], 0i64.to_le_bytes().to_vec()));
        }
        bytes.push((format!("{prefix}{name}"), safetensors::Dtype::F32, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect()));
    }
    let views = bytes
        .iter()
        .map(|(name, dtype, shape, data)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| format!("`{name}`: {e}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    safetensors::tensor::serialize(views, None).map_err(|e| format!("writing safetensors failed: {e}"))
}
