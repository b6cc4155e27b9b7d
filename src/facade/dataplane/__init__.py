"""The data plane seam: the `DataPlane` protocol and its drivers (fake, linux).

Nothing above this layer touches the kernel except through `DataPlane`.
"""
