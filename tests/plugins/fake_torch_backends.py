"""A torch backend that leaves ``torch.optim.Adam``'s epsilon where PyTorch puts it (imported by workers only)."""

from backends.torch_backend import TorchBackend, TorchClassifier
from harness.api import OptimizerSpec


class NativeEpsilonTorchClassifier(TorchClassifier):
    """Adds epsilon after the bias correction of v, as plain ``torch.optim.Adam(eps=epsilon)`` does."""

    def train_step(self, token_ids, labels, optimizer: OptimizerSpec) -> float:
        if self.optimizer is None or self.optimizer_spec != optimizer:
            import torch

            self.optimizer = (
                torch.optim.Adam(self.module.parameters(), lr=optimizer.learning_rate,
                                 betas=(optimizer.beta_1, optimizer.beta_2), eps=optimizer.epsilon)
                if optimizer.name == "adam" else torch.optim.SGD(self.module.parameters(), lr=optimizer.learning_rate)
            )
            self.optimizer_spec = optimizer
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._loss(token_ids, labels)
        loss.backward()
        self.optimizer.step()
        return float(loss.item())


class NativeEpsilonTorchBackend(TorchBackend):
    def build(self, spec, device="cpu"):
        model = super().build(spec, device)
        return NativeEpsilonTorchClassifier(spec, model.module, device=device)
