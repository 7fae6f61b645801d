"""The fast style network of Johnson et al. with the module names of pytorch/examples'
`fast_neural_style/neural_style/transformer_net.py` (`TransformerNet`), so that its state dict
has the same keys as the published models (candy, mosaic, rain_princess, udnie): `conv1.conv2d`,
`in1`, ..., `res1.conv1.conv2d`, `res1.in1`, ..., `deconv1.conv2d`, `in4`, ..., `deconv3.conv2d`.

Widths and the number of residual blocks are parameters (the published network: 32, 64, 128 and
5) so that small fixtures can be made. Input and output are pixel values in [0, 255].
"""

import torch.nn as nn
import torch.nn.functional as F


class ConvLayer(nn.Module):
    """Reflection padding of kernel // 2, then a convolution (named `conv2d`)."""

    def __init__(self, cin, cout, kernel, stride):
        super().__init__()
        self.pad = kernel // 2
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x):
        return self.conv2d(F.pad(x, (self.pad,) * 4, mode="reflect"))


class UpsampleConvLayer(ConvLayer):
    """Nearest-neighbour upsampling by `upsample`, then a `ConvLayer`."""

    def __init__(self, cin, cout, kernel, stride, upsample):
        super().__init__(cin, cout, kernel, stride)
        self.upsample = upsample

    def forward(self, x):
        return super().forward(F.interpolate(x, mode="nearest", scale_factor=self.upsample))


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, 1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3, 1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x):
        return x + self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))


class TransformerNet(nn.Module):
    def __init__(self, input_nc=3, output_nc=3, widths=(32, 64, 128), n_res=5):
        super().__init__()
        w1, w2, w3 = widths
        self.conv1 = ConvLayer(input_nc, w1, 9, 1)
        self.in1 = nn.InstanceNorm2d(w1, affine=True)
        self.conv2 = ConvLayer(w1, w2, 3, 2)
        self.in2 = nn.InstanceNorm2d(w2, affine=True)
        self.conv3 = ConvLayer(w2, w3, 3, 2)
        self.in3 = nn.InstanceNorm2d(w3, affine=True)
        for i in range(1, n_res + 1):
            setattr(self, f"res{i}", ResidualBlock(w3))
        self.n_res = n_res
        self.deconv1 = UpsampleConvLayer(w3, w2, 3, 1, upsample=2)
        self.in4 = nn.InstanceNorm2d(w2, affine=True)
        self.deconv2 = UpsampleConvLayer(w2, w1, 3, 1, upsample=2)
        self.in5 = nn.InstanceNorm2d(w1, affine=True)
        self.deconv3 = ConvLayer(w1, output_nc, 9, 1)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        for i in range(1, self.n_res + 1):
            y = getattr(self, f"res{i}")(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)
