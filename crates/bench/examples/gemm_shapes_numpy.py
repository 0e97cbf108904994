"""NumPy/OpenBLAS on the same products and views as gemm_shapes.rs: python gemm_shapes_numpy.py {big,mid} [REPEATS],
with OPENBLAS_NUM_THREADS set. Reference numbers only; the project never needs Python."""
import sys, time, json, numpy as np
BIG=[("m1 A B",1024,1024,1024,0,0),("m1 G B^T",1024,1024,1024,0,1),("m1 A^T G",1024,1024,1024,1,0),
("w3 x W1^T",256,784,1024,0,1),("w3 h1 W2^T",256,1024,1024,0,1),("w3 G W2",256,1024,1024,0,0),
("w3 G^T h1",1024,256,1024,1,0),("w3 G^T x",1024,256,784,1,0)]
MID=[("w1/h1 x W1",32,64,128,0,0),("w1/h1 G W1^T",32,128,64,0,1),("w1/h1 x^T G",64,32,128,1,0),
("c2 fc1 x W^T",64,400,120,0,1),("c2 fc1 G^T x",120,64,400,1,0),("c2 fc1 G W",64,120,400,0,0),
("c2 conv1 W cols",6,25,50176,0,0),("c2 conv2 W cols",16,150,6400,0,0),("c2 conv2 G cols^T",16,6400,150,0,1),
("c2 conv2 W^T G",150,16,6400,1,0),("128^3",128,128,128,0,0),("256 x 128 x 128",256,128,128,0,0),
("256 x 256 x 128",256,256,128,0,0),("256^3",256,256,256,0,0)]
s = MID if sys.argv[1]=="mid" else BIG
rep=int(sys.argv[2]) if len(sys.argv)>2 else 15
for name,m,k,n,ta,tb in s:
    A=np.random.rand(k,m).astype(np.float32).T if ta else np.random.rand(m,k).astype(np.float32)
    B=np.random.rand(n,k).astype(np.float32).T if tb else np.random.rand(k,n).astype(np.float32)
    C=np.empty((m,n),np.float32)
    calls=max(1,250_000_000//(m*k*n)); ts=[]
    for r in range(rep+3):
        t=time.perf_counter()
        for _ in range(calls): np.matmul(A,B,out=C)
        if r>=3: ts.append((time.perf_counter()-t)/calls)
    ts.sort(); f=2*m*k*n
    print(json.dumps({"name":name,"best_gflops":round(f/ts[0]/1e9,1),"median_gflops":round(f/ts[len(ts)//2]/1e9,1),"median_us":round(ts[len(ts)//2]*1e6,2)}))
