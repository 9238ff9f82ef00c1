"""The declaration language: cell body text -> frozen layer specs. Imports no Keras."""

from nbmnist.declaration.parser import parse_declaration
from nbmnist.declaration.spec import (
    ActivationSpec,
    BatchNormSpec,
    ConvSpec,
    Declaration,
    DenseSpec,
    DropoutSpec,
    FlattenSpec,
    GlobalPoolSpec,
    Kind,
    LayerSpec,
    PoolSpec,
)

__all__ = [
    "ActivationSpec",
    "BatchNormSpec",
    "ConvSpec",
    "Declaration",
    "DenseSpec",
    "DropoutSpec",
    "FlattenSpec",
    "GlobalPoolSpec",
    "Kind",
    "LayerSpec",
    "PoolSpec",
    "parse_declaration",
]
