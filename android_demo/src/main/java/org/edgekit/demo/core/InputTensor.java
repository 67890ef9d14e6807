package org.edgekit.demo.core;

/** A float32 NCHW tensor with batch 1, as the model takes it. */
public final class InputTensor {
    public final float[] data;
    public final long[] shape;

    public InputTensor(float[] data, long[] shape) {
        this.data = data;
        this.shape = shape;
    }
}
