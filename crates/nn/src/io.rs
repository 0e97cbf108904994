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
use crate::layers::{Activation, Mlp, MlpConfig};
use crate::module::Module;
use rand::SeedableRng;
use rand::rngs::StdRng;
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
    save_with_metadata(module, path, &BTreeMap::new())
}

/// Writes `module` to `path` as [`save`] does, with string key-value pairs in the header's `__metadata__`
/// (beside `format: pt`); [`read_metadata`] reads them back.
///
/// # Errors
/// As [`save`].
pub fn save_with_metadata<T: Float, M: Module<T> + ?Sized>(
    module: &M,
    path: impl AsRef<Path>,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = encode(module, &path.display().to_string(), metadata)?;
    std::fs::write(path, bytes).map_err(|source| Error::Io { path: path.display().to_string(), source })
}

/// Reads `path` into `module`'s parameters and buffers (in place: parameter ids stay, so optimizer state
/// keyed by them stays valid). The module's training/eval mode is left as it is, like PyTorch's
/// `load_state_dict`; [`Mlp::load`](crate::Mlp::load) builds a new model, in training mode like any new one.
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
    encode(module, BYTES, &BTreeMap::new())
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

/// The header's `__metadata__` of a safetensors file (empty when it has none).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::ModelFile`] when it is not valid safetensors.
pub fn read_metadata(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: shown.clone(), source })?;
    metadata_of(&bytes, &shown)
}

pub(crate) fn metadata_of(bytes: &[u8], path: &str) -> Result<BTreeMap<String, String>> {
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| model_file(path, format!("not a valid safetensors file: {e}")))?;
    Ok(meta.metadata().clone().map(|m| m.into_iter().collect()).unwrap_or_default())
}

/// `"f32"` or `"f64"`, for messages.
pub(crate) fn float_name<T: Float>() -> &'static str {
    match T::DTYPE {
        DType::F32 => "f32",
        DType::F64 => "f64",
    }
}

/// Longest text from a file quoted whole in an error message.
const SHOWN_CHARS: usize = 60;
/// Most names listed in one error message.
const SHOWN_NAMES: usize = 8;

/// `text` quoted for an error message, cut after 60 characters with the full length appended, so that a
/// hostile file cannot make a message as large as itself.
pub(crate) fn short(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}... ({} bytes)", &text[..cut], thousands(text.len())),
    }
}

/// `text` unquoted, cut after 60 characters as [`short`] cuts it.
pub(crate) fn clipped(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], thousands(text.len())),
    }
}

/// `n` with thousands separators: `199,990`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A bounded list of names: `["a", "b", ... and 199,990 more]`.
pub(crate) fn listed<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<String> = names.iter().take(SHOWN_NAMES).map(|n| short(n.as_ref())).collect();
    if names.len() > SHOWN_NAMES {
        format!("[{}, ... and {} more]", shown.join(", "), thousands(names.len() - SHOWN_NAMES))
    } else {
        format!("[{}]", shown.join(", "))
    }
}

pub(crate) fn model_file(path: &str, msg: String) -> Error {
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

fn encode<T: Float, M: Module<T> + ?Sized>(
    module: &M,
    path: &str,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
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
    let mut meta: HashMap<String, String> = metadata.clone().into_iter().collect();
    meta.insert("format".to_string(), "pt".to_string());
    safetensors::serialize(views, Some(meta)).map_err(|e| model_file(path, format!("cannot serialise: {e}")))
}

fn parse<'a>(bytes: &'a [u8], path: &str) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| model_file(path, format!("not a valid safetensors file: {e}")))
}

fn to_tensor<T: Float>(name: &str, view: &TensorView<'_>, path: &str) -> Result<Tensor<T>> {
    if view.dtype() != dtype_of::<T>() {
        return Err(model_file(
            path,
            format!("{}: dtype {} in the file, the model uses {}", clipped(name), view.dtype(), dtype_of::<T>()),
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
    Tensor::from_vec(data, view.shape().to_vec()).map_err(|e| model_file(path, format!("{}: {e}", clipped(name))))
}

/// The tensor names a model expects but a file lacks, and those the file has but the model does not; `None`
/// when the two sets are equal.
fn name_diff<'a>(
    in_file: impl IntoIterator<Item = &'a str>,
    in_model: impl IntoIterator<Item = &'a str>,
) -> Option<(Vec<&'a str>, Vec<&'a str>)> {
    let in_file: BTreeSet<&str> = in_file.into_iter().collect();
    let in_model: BTreeSet<&str> = in_model.into_iter().collect();
    let missing: Vec<&str> = in_model.difference(&in_file).copied().collect();
    let extra: Vec<&str> = in_file.difference(&in_model).copied().collect();
    (!missing.is_empty() || !extra.is_empty()).then_some((missing, extra))
}

pub(crate) fn decode_into<T: Float, M: Module<T> + ?Sized>(module: &mut M, bytes: &[u8], path: &str) -> Result<()> {
    let file = parse(bytes, path)?;
    let expected = named_tensors(module, path)?;
    if let Some((missing, extra)) = name_diff(file.names(), expected.iter().map(|(n, _)| n.as_str())) {
        return Err(model_file(
            path,
            format!("names differ from the model's: missing {}, unexpected {}", listed(&missing), listed(&extra)),
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

/// Header keys under which [`Mlp::save`] records the architecture.
const MLP_KEYS: [&str; 6] = [
    "tapegrad.mlp.sizes",
    "tapegrad.mlp.hidden",
    "tapegrad.mlp.output",
    "tapegrad.mlp.bias",
    "tapegrad.mlp.dropout",
    "tapegrad.mlp.batch_norm",
];

fn mlp_metadata(cfg: &MlpConfig) -> BTreeMap<String, String> {
    let sizes: Vec<String> = cfg.sizes.iter().map(|s| s.to_string()).collect();
    let values = [
        sizes.join(","),
        cfg.hidden.to_string(),
        cfg.output.to_string(),
        cfg.bias.to_string(),
        cfg.dropout.to_string(),
        cfg.batch_norm.to_string(),
    ];
    MLP_KEYS.iter().map(|k| k.to_string()).zip(values).collect()
}

/// The configuration recorded in the header; `max_sizes` is one more than the number of tensors in the file.
fn mlp_config(meta: &BTreeMap<String, String>, path: &str, max_sizes: usize) -> Result<MlpConfig> {
    let get = |i: usize| {
        meta.get(MLP_KEYS[i])
            .ok_or_else(|| model_file(path, format!("metadata has no {}: not saved by Mlp::save", MLP_KEYS[i])))
    };
    let bad = |i: usize, v: &str| model_file(path, format!("metadata {} = {} cannot be read", MLP_KEYS[i], short(v)));
    let sizes = get(0)?;
    // A network of k sizes has k - 1 weights, each a tensor of the file: more sizes than that cannot be
    // right, and counting them first keeps a header of millions of sizes from being parsed at all.
    let count = sizes.split(',').count();
    if count > max_sizes {
        return Err(model_file(
            path,
            format!(
                "metadata {} lists {} layer sizes, but the file holds {} tensors (each layer needs its weight)",
                MLP_KEYS[0],
                thousands(count),
                thousands(max_sizes - 1)
            ),
        ));
    }
    let sizes = sizes.split(',').map(|s| s.parse().map_err(|_| bad(0, sizes))).collect::<Result<Vec<usize>>>()?;
    let act = |i: usize| get(i).and_then(|v| v.parse::<Activation>().map_err(|_| bad(i, v)));
    let flag = |i: usize| get(i).and_then(|v| v.parse::<bool>().map_err(|_| bad(i, v)));
    let dropout = get(4)?;
    Ok(MlpConfig {
        sizes,
        hidden: act(1)?,
        output: act(2)?,
        bias: flag(3)?,
        init: None,
        dropout: dropout.parse().map_err(|_| bad(4, dropout))?,
        batch_norm: flag(5)?,
    })
}

impl<T: Float> Mlp<T> {
    /// Saves the parameters and buffers with [`save_with_metadata`], recording the architecture (sizes,
    /// activations, bias, dropout, batch norm) in the header so that [`Mlp::load`] can rebuild it.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use tapegrad::Tensor;
    /// use tapegrad_nn::{Activation, Mlp, Module};
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let mlp = Mlp::<f32>::new(&[4, 8, 3], Activation::leaky(0.1), Activation::Identity, &mut rng).unwrap();
    /// let path = std::env::temp_dir().join(format!("mlp-doc-{}.safetensors", std::process::id()));
    /// mlp.save(&path).unwrap();
    /// let back = Mlp::<f32>::load(&path).unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(back.config().sizes, [4, 8, 3]);
    /// let x = Tensor::ones([2, 4]).unwrap();
    /// assert_eq!(back.predict(&x).unwrap(), mlp.predict(&x).unwrap());
    /// ```
    ///
    /// # Errors
    /// As [`save`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_with_metadata(self, path, &mlp_metadata(self.config()))
    }

    /// Rebuilds an MLP saved by [`Mlp::save`] and loads its parameters and buffers. Like a freshly built
    /// one it is in training mode: call `set_train(false)` before predicting with dropout or batch norm.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::ModelFile`] when it is corrupt, lacks the
    /// architecture keys, or its tensors do not match that architecture.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: shown.clone(), source })?;
        Self::from_safetensors(&bytes, &shown)
    }

    /// Rebuilds an MLP from the bytes of a file written by [`Mlp::save`], as [`Mlp::load`] does (`<bytes>`
    /// stands for the path in errors).
    ///
    /// # Errors
    /// As [`Mlp::load`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_safetensors(bytes, BYTES)
    }

    /// The file is untrusted: the header's architecture is checked against the tensors the file holds
    /// (names, shapes, dtypes; the byte length of every tensor was checked against its shape by the
    /// parser) before anything is built, so every allocation below is bounded by the file's own size.
    fn from_safetensors(bytes: &[u8], path: &str) -> Result<Self> {
        let file = parse(bytes, path)?;
        let cfg = mlp_config(&metadata_of(bytes, path)?, path, file.len().saturating_add(1))?;
        cfg.validate().map_err(|e| model_file(path, format!("the recorded architecture is invalid: {e}")))?;
        let expected = cfg.tensors();
        if let Some((missing, extra)) = name_diff(file.names(), expected.iter().map(|(n, _)| n.as_str())) {
            return Err(model_file(
                path,
                format!(
                    "the tensors do not match the recorded architecture {}: missing {}, unexpected {}",
                    short(&meta_sizes(&cfg)),
                    listed(&missing),
                    listed(&extra)
                ),
            ));
        }
        for (name, shape) in &expected {
            let view = file.tensor(name).map_err(|e| model_file(path, format!("{name}: {e}")))?;
            if view.shape() != shape.as_slice() {
                return Err(model_file(
                    path,
                    format!("{name}: shape {:?} in the file, the recorded architecture needs {shape:?}", view.shape()),
                ));
            }
            if view.dtype() != dtype_of::<T>() {
                return Err(model_file(
                    path,
                    format!("{name}: dtype {} in the file, the model uses {}", view.dtype(), dtype_of::<T>()),
                ));
            }
        }
        // The initial values are overwritten; the seed only fixes dropout masks.
        let mut mlp = Mlp::from_config(cfg, &mut StdRng::seed_from_u64(0))
            .map_err(|e| model_file(path, format!("the recorded architecture is invalid: {e}")))?;
        decode_into(&mut mlp, bytes, path)?;
        Ok(mlp)
    }
}

fn meta_sizes(cfg: &MlpConfig) -> String {
    cfg.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(",")
}
