package org.edgekit.demo;

import android.content.ContentProvider;
import android.content.ContentResolver;
import android.content.ContentValues;
import android.content.Context;
import android.database.Cursor;
import android.database.MatrixCursor;
import android.net.Uri;
import android.os.ParcelFileDescriptor;
import android.provider.OpenableColumns;

import java.io.File;
import java.io.FileNotFoundException;
import java.util.List;

/**
 * Gives the camera app a content:// URI to write its photo to: one file in this app's cache,
 * which the capture intent's FLAG_GRANT_WRITE_URI_PERMISSION opens to that app alone.
 *
 * <p>A file:// URI would ask the camera app to write into this app's folders, which it cannot
 * (the cache never; the external files folder not since Android 11's scoped storage), and apps
 * targeting API 24 or later may not pass one at all. The support library's FileProvider does
 * this job; the demo has no libraries, so this is the minimal provider: one fixed file, nothing
 * else reachable, no listing.
 */
public final class PhotoProvider extends ContentProvider {
    static final String AUTHORITY = "org.edgekit.demo.photos";
    static final String CAMERA_PHOTO = "camera.jpg";
    private static final String FOLDER = "camera";
    private static final String TYPE = "image/jpeg";

    /** The URI the camera app writes to. */
    static Uri cameraUri() {
        return new Uri.Builder().scheme(ContentResolver.SCHEME_CONTENT).authority(AUTHORITY)
                .appendPath(CAMERA_PHOTO).build();
    }

    /** The file behind {@link #cameraUri()}. */
    static File cameraFile(Context context) {
        return new File(new File(context.getCacheDir(), FOLDER), CAMERA_PHOTO);
    }

    @Override
    public boolean onCreate() {
        return true;
    }

    private File fileFor(Uri uri) throws FileNotFoundException {
        List<String> segments = uri.getPathSegments();
        if (segments.size() != 1 || !CAMERA_PHOTO.equals(segments.get(0))) {
            throw new FileNotFoundException("no such photo: " + uri);
        }
        File file = cameraFile(getContext());
        File folder = file.getParentFile();
        if (!folder.isDirectory() && !folder.mkdirs()) {
            throw new FileNotFoundException("cannot create " + folder);
        }
        return file;
    }

    @Override
    public ParcelFileDescriptor openFile(Uri uri, String mode) throws FileNotFoundException {
        // parseMode: "w" creates and truncates, "r" reads, as ContentResolver callers expect
        return ParcelFileDescriptor.open(fileFor(uri), ParcelFileDescriptor.parseMode(mode));
    }

    @Override
    public String getType(Uri uri) {
        return TYPE;
    }

    /** The name and size columns (OpenableColumns) that some camera apps ask for before writing. */
    @Override
    public Cursor query(Uri uri, String[] projection, String selection, String[] selectionArgs, String sortOrder) {
        File file;
        try {
            file = fileFor(uri);
        } catch (FileNotFoundException e) {
            return null;
        }
        String[] columns = projection != null ? projection
                : new String[] {OpenableColumns.DISPLAY_NAME, OpenableColumns.SIZE};
        Object[] row = new Object[columns.length];
        for (int i = 0; i < columns.length; i++) {
            if (OpenableColumns.DISPLAY_NAME.equals(columns[i])) {
                row[i] = file.getName();
            } else if (OpenableColumns.SIZE.equals(columns[i])) {
                row[i] = file.length();
            }
        }
        MatrixCursor cursor = new MatrixCursor(columns, 1);
        cursor.addRow(row);
        return cursor;
    }

    @Override
    public Uri insert(Uri uri, ContentValues values) {
        throw new UnsupportedOperationException("the photo provider holds one fixed file");
    }

    @Override
    public int update(Uri uri, ContentValues values, String selection, String[] selectionArgs) {
        throw new UnsupportedOperationException("the photo provider holds one fixed file");
    }

    @Override
    public int delete(Uri uri, String selection, String[] selectionArgs) {
        throw new UnsupportedOperationException("the photo provider holds one fixed file");
    }
}
