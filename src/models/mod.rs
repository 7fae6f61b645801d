//! Networks in the official PyTorch layouts.
//!
//! Planned (issue "Networks and real checkpoints"): torchvision VGG19 features,
//! the junyanz ResNet and U-Net generators and the 70x70 PatchGAN. Nothing is
//! implemented here yet.
