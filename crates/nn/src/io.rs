//! Saving and loading a module's named parameters and buffers in the [safetensors] format, the format
//! PyTorch (`safetensors.torch.save_file(model.state_dict(), ...)`) and candle read and write.
//!
//! Tensors are stored under the module's parameter names (`layers.0.weight`, ...) and buffer names
//! (`layers.1.running_mean`, ...), with the dtype of `T` (`F32` or `F64`), little-endian, row-major, so a
//! round trip is bit-exact. Loading checks that the file has exactly the module's names, with the same
//! shapes and dtype, before changing anything: a mismatched or corrupt file leaves the module untouched
//! and returns [`Error::ModelFile`]. The header carries `{"format": "pt"}` as PyTorch's files do.
//!
//! ```
//! use rand::SeedableRng;
//! use tapegrad_nn::layers::{Activation, Mlp};
//! use tapegrad_nn::{io, Module};
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let a = Mlp::<f32>::new(&[4, 8, 2], Activation::Relu, Activation::Identity, &mut rng).unwrap();
//! let mut b = Mlp::<f32>::new(&[4, 8, 2], Activation::Relu, Activation::Identity, &mut rng).unwrap();
//! let bytes = io::to_bytes(&a).unwrap();
//! io::from_bytes(&mut b, &bytes).unwrap();
//! assert_eq!(a.params()[0].1.value(), b.params()[0].1.value());
//! ```
//!
//! [safetensors]: https://huggingface.co/docs/safetensors

use crate::error::{Error, Result};
use crate::module::Module;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use tapegrad::{DType, Float, Tensor};

/// The path printed in errors of the in-memory functions.
const BYTES: &str = "<bytes>";

/// Writes `module`'s parameters and buffers to `path` as safetensors.
///
/// # Errors
/// [`Error::Io`] when the file cannot be written; [`Error::ModelFile`] when two tensors share a name.
pub fn save<T: Float, M: Module<T> + ?Sized>(module: &M, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = encode(module, &path.display().to_string())?;
    std::fs::write(path, bytes).map_err(|source| Error::Io { path: path.display().to_string(), source })
}

/// Reads `path` into `module`'s parameters and buffers (in place: parameter ids stay, so optimizer state
/// keyed by them stays valid).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::ModelFile`] when it is not valid safetensors, or its
/// names, shapes or dtypes differ from the module's. On error the module is unchanged.
pub fn load<T: Float, M: Module<T> + ?Sized>(module: &mut M, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: shown.clone(), source })?;
    decode_into(module, &bytes, &shown)
}

/// `module`'s parameters and buffers as safetensors bytes.
///
/// # Errors
/// [`Error::ModelFile`] when two tensors share a name.
pub fn to_bytes<T: Float, M: Module<T> + ?Sized>(module: &M) -> Result<Vec<u8>> {
    encode(module, BYTES)
}

/// Loads safetensors bytes into `module`, as [`load`] does.
///
/// # Errors
/// As [`load`], with the path shown as `<bytes>`.
pub fn from_bytes<T: Float, M: Module<T> + ?Sized>(module: &mut M, bytes: &[u8]) -> Result<()> {
    decode_into(module, bytes, BYTES)
}

/// Every tensor in a safetensors file, by name, converted to `T` only if stored as `T`'s dtype.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::ModelFile`] when it is corrupt or a tensor has
/// another dtype.
pub fn read_tensors<T: Float>(path: impl AsRef<Path>) -> Result<BTreeMap<String, Tensor<T>>> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: shown.clone(), source })?;
    let file = parse(&bytes, &shown)?;
    file.iter().map(|(name, view)| Ok((name.to_string(), to_tensor(name, &view, &shown)?))).collect()
}

fn model_file(path: &str, msg: String) -> Error {
    Error::ModelFile { path: path.to_string(), msg }
}

fn dtype_of<T: Float>() -> Dtype {
    match T::DTYPE {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
    }
}

fn le_bytes<T: Float>(t: &Tensor<T>) -> Vec<u8> {
    match T::DTYPE {
        DType::F32 => t.data().iter().flat_map(|v| (v.f64() as f32).to_le_bytes()).collect(),
        DType::F64 => t.data().iter().flat_map(|v| v.f64().to_le_bytes()).collect(),
    }
}

/// Names and values of everything saved: parameters, then buffers.
fn named_tensors<T: Float, M: Module<T> + ?Sized>(module: &M, path: &str) -> Result<Vec<(String, Tensor<T>)>> {
    let mut all: Vec<(String, Tensor<T>)> = module.params().into_iter().map(|(n, p)| (n, p.value().clone())).collect();
    all.extend(module.buffers());
    let mut seen = BTreeSet::new();
    for (name, _) in &all {
        if !seen.insert(name.as_str()) {
            return Err(model_file(path, format!("the module has two tensors named {name:?}")));
        }
    }
    Ok(all)
}

fn encode<T: Float, M: Module<T> + ?Sized>(module: &M, path: &str) -> Result<Vec<u8>> {
    let tensors = named_tensors(module, path)?;
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, t)| le_bytes(t)).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, t), b)| {
            let view = TensorView::new(dtype_of::<T>(), t.dims().to_vec(), b)
                .map_err(|e| model_file(path, format!("{name}: {e}")))?;
            Ok((name.as_str(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(meta)).map_err(|e| model_file(path, format!("cannot serialise: {e}")))
}

fn parse<'a>(bytes: &'a [u8], path: &str) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| model_file(path, format!("not a valid safetensors file: {e}")))
}

fn to_tensor<T: Float>(name: &str, view: &TensorView<'_>, path: &str) -> Result<Tensor<T>> {
    if view.dtype() != dtype_of::<T>() {
        return Err(model_file(
            path,
            format!("{name}: dtype {} in the file, the model uses {}", view.dtype(), dtype_of::<T>()),
        ));
    }
    let data: Vec<T> = match T::DTYPE {
        DType::F32 => view
            .data()
            .chunks_exact(4)
            .map(|c| T::of(f32::from_le_bytes(c.try_into().expect("invariant: chunks of 4")) as f64))
            .collect(),
        DType::F64 => view
            .data()
            .chunks_exact(8)
            .map(|c| T::of(f64::from_le_bytes(c.try_into().expect("invariant: chunks of 8"))))
            .collect(),
    };
    Tensor::from_vec(data, view.shape().to_vec()).map_err(|e| model_file(path, format!("{name}: {e}")))
}

fn decode_into<T: Float, M: Module<T> + ?Sized>(module: &mut M, bytes: &[u8], path: &str) -> Result<()> {
    let file = parse(bytes, path)?;
    let expected = named_tensors(module, path)?;
    let in_file: BTreeSet<&str> = file.names().into_iter().collect();
    let in_model: BTreeSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    let missing: Vec<&str> = in_model.difference(&in_file).copied().collect();
    let extra: Vec<&str> = in_file.difference(&in_model).copied().collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(model_file(
            path,
            format!("names differ from the model's: missing {missing:?}, unexpected {extra:?}"),
        ));
    }
    // Check and convert everything before touching the module, so an error leaves it unchanged.
    let mut loaded: HashMap<String, Tensor<T>> = HashMap::new();
    for (name, current) in &expected {
        let view = file.tensor(name).map_err(|e| model_file(path, format!("{name}: {e}")))?;
        if view.shape() != current.dims() {
            return Err(model_file(
                path,
                format!("{name}: shape {:?} in the file, the model has {}", view.shape(), current.shape()),
            ));
        }
        loaded.insert(name.clone(), to_tensor(name, &view, path)?);
    }
    for (name, p) in module.params_mut() {
        p.set(loaded.remove(&name).expect("invariant: every parameter name was checked"));
    }
    for (name, value) in loaded {
        module.set_buffer(&name, value)?;
    }
    Ok(())
}
