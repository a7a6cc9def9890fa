"""What can be trained on a pair: configurations and method definitions, the network, its losses, the estimator
that trains every network method, PCA + SVM, label-free scores and target metrics."""
