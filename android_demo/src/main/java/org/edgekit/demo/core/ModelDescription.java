package org.edgekit.demo.core;

import java.io.IOException;
import java.io.InputStream;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * The model's deployment description that {@code edgekit app build} writes into
 * {@code assets/description.json}, in edgekit's JSON form ({@code ModelDescription.to_dict()}):
 * <pre>
 * {"input_shape": [1, 3, 224, 224],
 *  "preprocess": {"resize_short": 256, "resize_size": null, "interpolation": "bilinear",
 *                 "crop": [224, 224], "scale": 0.00392156862745098,
 *                 "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "channel_order": "RGB"},
 *  "labels": ["tench", ...] or null, "source": "..."}
 * </pre>
 * Sizes are (width, height); {@code input_shape} is NCHW with -1 for a dynamic dimension.
 * Parsed with {@code org.json} (part of Android; Debian's libandroid-json-java on the JVM).
 */
public final class ModelDescription {
    public final long[] inputShape;
    public final PreprocessSpec preprocess;
    public final String[] labels;  // null: the model has none, classes are shown by id
    public final String source;

    public ModelDescription(long[] inputShape, PreprocessSpec preprocess, String[] labels, String source) {
        if (inputShape.length != 4 || (inputShape[1] != 3 && inputShape[1] != -1)) {
            throw new IllegalArgumentException("the app feeds 3-channel NCHW tensors; the model takes "
                    + java.util.Arrays.toString(inputShape));
        }
        int[] fixed = preprocess.fixedOutputSize();
        if (fixed != null && (!fits(inputShape[3], fixed[0]) || !fits(inputShape[2], fixed[1]))) {
            throw new IllegalArgumentException("the preprocessing gives " + fixed[0] + "x" + fixed[1]
                    + " images but the model takes " + java.util.Arrays.toString(inputShape));
        }
        this.inputShape = inputShape.clone();
        this.preprocess = preprocess;
        this.labels = labels == null ? null : labels.clone();
        this.source = source;
    }

    private static boolean fits(long dimension, int size) {
        return dimension < 0 || dimension == size;
    }

    public static ModelDescription parse(String json) {
        try {
            JSONObject root = new JSONObject(json);
            JSONObject pre = root.getJSONObject("preprocess");
            int[] resize = pair(pre, "resize_size");
            int[] crop = pair(pre, "crop");
            PreprocessSpec spec = new PreprocessSpec(pre.isNull("resize_short") ? 0 : pre.getInt("resize_short"),
                    resize[0], resize[1], pre.getString("interpolation"), crop[0], crop[1], pre.getDouble("scale"),
                    floats(pre.getJSONArray("mean")), floats(pre.getJSONArray("std")), pre.getString("channel_order"));
            JSONArray shape = root.getJSONArray("input_shape");
            long[] inputShape = new long[shape.length()];
            for (int i = 0; i < inputShape.length; i++) {
                inputShape[i] = shape.getLong(i);
            }
            String[] labels = null;
            if (!root.isNull("labels")) {
                JSONArray names = root.getJSONArray("labels");
                labels = new String[names.length()];
                for (int i = 0; i < labels.length; i++) {
                    labels[i] = names.getString(i);
                }
            }
            return new ModelDescription(inputShape, spec, labels, root.optString("source", ""));
        } catch (JSONException e) {
            throw new IllegalArgumentException("description.json: " + e.getMessage(), e);
        }
    }

    public static ModelDescription read(InputStream stream) throws IOException {
        return parse(Labels.readText(stream));
    }

    /** A (width, height) pair, or {0, 0} when the key holds null. */
    private static int[] pair(JSONObject object, String key) throws JSONException {
        if (object.isNull(key)) {
            return new int[] {0, 0};
        }
        JSONArray values = object.getJSONArray(key);
        if (values.length() != 2) {
            throw new IllegalArgumentException("description.json: " + key + " must be [width, height]");
        }
        return new int[] {values.getInt(0), values.getInt(1)};
    }

    private static float[] floats(JSONArray values) throws JSONException {
        float[] out = new float[values.length()];
        for (int i = 0; i < out.length; i++) {
            // numpy's astype('float32') of the double: rounded once.
            out[i] = (float) values.getDouble(i);
        }
        return out;
    }
}
