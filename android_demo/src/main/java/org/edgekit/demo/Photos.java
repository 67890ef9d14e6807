package org.edgekit.demo;

import android.content.Context;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.media.ExifInterface;
import android.net.Uri;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** Decoding photos the way the comparison with edgekit needs: full size, 8 bits per channel, unscaled. */
final class Photos {
    /** A decoded photo and its EXIF orientation (1 = upright). */
    static final class Photo {
        final Bitmap bitmap;
        final int orientation;

        Photo(Bitmap bitmap, int orientation) {
            this.bitmap = bitmap;
            this.orientation = orientation;
        }

        BitmapSource pixels() {
            return new BitmapSource(bitmap, orientation);
        }
    }

    private Photos() {
    }

    private static BitmapFactory.Options options() {
        BitmapFactory.Options options = new BitmapFactory.Options();
        options.inPreferredConfig = Bitmap.Config.ARGB_8888;
        options.inScaled = false;        // no density scaling: the pixels of the file
        options.inPremultiplied = false; // colour values as stored, not multiplied by alpha
        return options;
    }

    /** An image in the APK's assets (the sample: a lossless PNG, decoded identically everywhere). */
    static Photo fromAsset(Context context, String name) throws IOException {
        InputStream in = context.getAssets().open(name);
        try {
            return new Photo(check(BitmapFactory.decodeStream(in, null, options()), name), 1);
        } finally {
            in.close();
        }
    }

    /** A picture from the gallery: copied to a cache file first, because API 23's ExifInterface needs a path. */
    static Photo fromUri(Context context, Uri uri) throws IOException {
        File copy = new File(context.getCacheDir(), "picked-image");
        InputStream in = context.getContentResolver().openInputStream(uri);
        if (in == null) {
            throw new IOException("cannot open " + uri);
        }
        try {
            OutputStream out = new FileOutputStream(copy);
            try {
                copyStream(in, out);
            } finally {
                out.close();
            }
        } finally {
            in.close();
        }
        return fromFile(copy);
    }

    /** A picture file (e.g. the camera's). */
    static Photo fromFile(File file) throws IOException {
        Bitmap bitmap = check(BitmapFactory.decodeFile(file.getPath(), options()), file.getName());
        int orientation = ExifInterface.ORIENTATION_NORMAL;
        try {
            orientation = new ExifInterface(file.getPath())
                    .getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL);
        } catch (IOException e) {
            // not a JPEG or no EXIF block: the picture is stored upright
        }
        return new Photo(bitmap, orientation);
    }

    private static Bitmap check(Bitmap bitmap, String name) throws IOException {
        if (bitmap == null) {
            throw new IOException("cannot decode " + name + " (not an image Android can read)");
        }
        return bitmap;
    }

    static void copyStream(InputStream in, OutputStream out) throws IOException {
        byte[] buffer = new byte[1 << 16];
        int n;
        while ((n = in.read(buffer)) > 0) {
            out.write(buffer, 0, n);
        }
    }
}
