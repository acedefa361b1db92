"""The app's views, one module each, drawn with app/plot_kit and app/plot_math.

  plot_panel        PlotPanel: the live plots of a run, composed of
    activation_map    ActivationMap: layer × activation value heatmap
    histograms        Histograms: selected layers' activation histograms and their statistics
    gradients         GradientsPerLayer: ‖∂L/∂z‖ and ‖∂L/∂W‖ per layer, vanishing/exploding bands
    gradient_history  GradientHistory: layer × step heatmap of log10 ‖∂L/∂z‖
    loss              LossAccuracy: loss and accuracy over steps
    updates           UpdateRatios: update : weight ratio per layer over steps
  empty_note        EmptyNote: the message over an over-steps plot with no steps yet
  layer_scale       whether the activation views draw one common value axis or each layer ÷ its std
  noise             NoisePanel: the gradient-noise statistic per layer and over steps
  compare           CompareView: A | B side by side and their gradient ratio
  spectrum          SpectrumView: a vanilla RNN's W_hh eigenvalues and the growth they predict
  layer_table       LayerTable: the per-layer figures of a snapshot as a table
  scenario          ScenarioPanel: the current scenario's text and its run button
  diagnoses         DiagnosesList: the diagnoses of the latest snapshot
"""
