// Display names for the engine's vocabulary (text only; the names themselves come from the
// server's schema, and the input features' labels from its hello).

export const FIELD_LABELS = {
  dataset: "Data set", n_points: "Points", noise: "Noise", train_fraction: "Train share",
  seed: "Seed", n_classes: "Classes", features: "Features", hidden: "Hidden layers",
  activation: "Activation", output_activation: "Output activation", loss: "Loss",
  init: "Initialisation", batch_norm: "Batch norm", dropout: "Dropout", residual: "Residual",
  optimizer: "Optimizer", learning_rate: "Learning rate α", momentum: "Momentum μ",
  beta1: "β₁", beta2: "β₂", eps: "ε", alpha: "RMSprop ρ", regularization: "Regularization",
  regularization_rate: "Regularization rate λ", batch_size: "Batch size",
  max_epochs: "Max epochs", target_loss: "Target loss", patience: "Patience (epochs)",
  tolerance: "Stop when |Δw| <",
};

export const CHOICE_LABELS = {
  leaky_relu: "leaky ReLU", relu: "ReLU", elu: "ELU", sgd: "SGD", rmsprop: "RMSprop",
  adam: "Adam", mse: "MSE ½(ŷ−y)²", bce: "binary cross-ent.",
  cross_entropy: "cross-entropy", l1: "L1", l2: "L2", he: "He", xavier: "Xavier",
  gaussian: "two gaussians", checkerboard: "checkerboard",
  multi_gaussian: "gaussian bumps (regression)", plane: "plane (regression)",
  blobs: "blobs (K classes)", multi_spiral: "K spirals (K classes)", custom: "custom (click to add)",
  your_data: "your data (a CSV file)", your_data_classes: "your data (a CSV file)",
  your_data_regression: "your data (a CSV file)",
};

// The data-set picker's tile captions: short enough for a 48-px tile, one per data set
// (the long name from CHOICE_LABELS goes in the tooltip).
export const DATASET_TILE_LABELS = {
  circle: "circle", xor: "xor", gaussian: "gauss", spiral: "spiral", moons: "moons",
  checkerboard: "checker", custom: "custom", plane: "plane", multi_gaussian: "bumps",
  blobs: "blobs", multi_spiral: "spirals K", your_data: "your data", your_data_classes: "your data",
  your_data_regression: "your data",
};

export const GROUP_LABELS = {
  data: "Data", network: "Network", optimizer: "Optimizer", regularization: "Regularization",
  training: "Training",
};

export const STOP_REASONS = {
  diverged: "The loss became infinite: the learning rate is probably too large.",
  max_epochs: "Reached the maximum number of epochs.",
  target_loss: "The training loss reached the target.",
  early_stopping: "Stopped early: the test loss stopped improving.",
  converged: "Converged: the updates became tiny.",
};

export function choiceLabel(v) {
  return CHOICE_LABELS[v] || String(v).replace(/_/g, " ");
}

/** A data set's caption under its tile in the picker. */
export function datasetTileLabel(name) {
  return DATASET_TILE_LABELS[name] || choiceLabel(name);
}

export function fieldLabel(name) {
  return FIELD_LABELS[name] || name.replace(/_/g, " ");
}
