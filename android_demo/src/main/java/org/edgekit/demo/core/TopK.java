package org.edgekit.demo.core;

import java.util.ArrayList;
import java.util.List;

/** Scores → the k best classes. */
public final class TopK {
    private TopK() {
    }

    /**
     * Indices of the {@code k} largest values, largest first; equal values keep the lower index
     * first (the order of a stable descending sort). NaN ranks below every number.
     */
    public static int[] indices(float[] values, int k) {
        int n = Math.min(Math.max(k, 0), values.length);
        int[] best = new int[n];
        int filled = 0;
        for (int i = 0; i < values.length; i++) {
            int pos = filled;
            while (pos > 0 && greater(values[i], values[best[pos - 1]])) {
                pos--;
            }
            if (pos >= n) {
                continue;
            }
            int last = Math.min(filled, n - 1);
            System.arraycopy(best, pos, best, pos + 1, last - pos);
            best[pos] = i;
            filled = Math.min(filled + 1, n);
        }
        return best;
    }

    private static boolean greater(float a, float b) {
        if (Float.isNaN(a)) {
            return false;
        }
        return Float.isNaN(b) || a > b;
    }

    /**
     * Probabilities for a model output: softmax of the logits, or the values unchanged when they
     * already are probabilities (all ≥ 0 and summing to 1 within 1e-3, as when the exported model
     * ends with softmax). Same rule as edgekit's host-side {@code predict.softmax}.
     */
    public static float[] probabilities(float[] output) {
        double sum = 0;
        boolean nonNegative = true;
        double max = Double.NEGATIVE_INFINITY;
        for (float v : output) {
            sum += v;
            nonNegative &= v >= 0;
            max = Math.max(max, v);
        }
        if (nonNegative && Math.abs(sum - 1.0) <= 1e-3) {
            return output.clone();
        }
        double[] exp = new double[output.length];
        double total = 0;
        for (int i = 0; i < output.length; i++) {
            exp[i] = Math.exp(output[i] - max);
            total += exp[i];
        }
        float[] out = new float[output.length];
        for (int i = 0; i < output.length; i++) {
            out[i] = (float) (exp[i] / total);
        }
        return out;
    }

    /** The {@code k} most probable classes of a model output, with their names. */
    public static List<Prediction> predictions(float[] output, int k, Labels labels) {
        float[] probs = probabilities(output);
        List<Prediction> top = new ArrayList<Prediction>();
        for (int id : indices(probs, k)) {
            top.add(new Prediction(id, labels.name(id), probs[id]));
        }
        return top;
    }
}
